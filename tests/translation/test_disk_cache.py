"""The translation cache: built once, read back after, rebuilt when damaged or stale, and never
in the way when its directory cannot be written."""

from __future__ import annotations

import logging
import marshal
from collections.abc import Callable
from pathlib import Path

import pytest

from sam3lib.translation.disk_cache import entry_key, load_or_build, translation_cache_dir

VALUE = ({"红色": "red/revolutionary", "汽车": "car"}, {"車": "车"})


class Builder:
    """Counts its calls and returns a fresh copy of VALUE each time."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> tuple[dict[str, str], dict[str, str]]:
        self.calls += 1
        return dict(VALUE[0]), dict(VALUE[1])


def _entries(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


def test_an_entry_is_built_once_then_read_back(tmp_path: Path) -> None:
    build = Builder()

    first = load_or_build("cedict", ["1.2.0"], build, directory=tmp_path)
    second = load_or_build("cedict", ["1.2.0"], build, directory=tmp_path)

    assert first == second == VALUE
    assert build.calls == 1
    assert _entries(tmp_path) == [f"cedict-{entry_key(['cedict', '1.2.0'])}.marshal"]


def test_another_key_builds_another_entry(tmp_path: Path) -> None:
    build = Builder()

    load_or_build("cedict", ["1.2.0"], build, directory=tmp_path)
    load_or_build("cedict", ["1.3.0"], build, directory=tmp_path)

    assert build.calls == 2
    assert len(_entries(tmp_path)) == 2


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],  # truncated
        lambda data: b"\x00garbage",  # not marshal at all
        lambda data: marshal.dumps(42),  # marshal, but not (key, value)
        lambda data: marshal.dumps(("another key", {"x": "y"})),  # another key's value
    ],
)
def test_a_damaged_entry_is_rebuilt_and_rewritten(
    tmp_path: Path, damage: Callable[[bytes], bytes]
) -> None:
    build = Builder()
    load_or_build("jieba", ["0.42.1"], build, directory=tmp_path)
    (entry,) = tmp_path.iterdir()
    entry.write_bytes(damage(entry.read_bytes()))

    assert load_or_build("jieba", ["0.42.1"], build, directory=tmp_path) == VALUE
    assert build.calls == 2
    assert load_or_build("jieba", ["0.42.1"], build, directory=tmp_path) == VALUE
    assert build.calls == 2  # the rewritten entry is whole again
    assert _entries(tmp_path) == [entry.name]  # no temporary file left behind


def test_an_unwritable_directory_still_gives_the_value(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the cache directory should be")
    build = Builder()

    with caplog.at_level(logging.WARNING, logger="sam3lib.translation.disk_cache"):
        value = load_or_build("cedict", ["1.2.0"], build, directory=blocker / "translation")

    assert value == VALUE
    assert "could not write the translation cache" in caplog.text
    assert "SAM3LIB_CACHE" in caplog.text


def test_the_directory_follows_sam3lib_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAM3LIB_CACHE", str(tmp_path))
    assert translation_cache_dir() == tmp_path / "translation"
    monkeypatch.delenv("SAM3LIB_CACHE")
    assert translation_cache_dir() == Path.home() / ".cache" / "sam3lib" / "translation"
