"""The TensorRT engine cache: keys, atomic writes, invalidation and recovery, without TensorRT."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from sam3lib.backends.engine_cache import (
    EngineCache,
    EngineCacheWarning,
    EngineKey,
    default_engine_cache_dir,
)

KEY = EngineKey(
    weights_sha256="0f" * 32,
    graph="decoder",
    precision="fp16",
    profile=(("text_mask", (1, 32), (4, 32), (16, 32)), ("box_mask", (1, 4), (4, 4), (16, 4))),
    tensorrt_version="10.7.0",
    gpu_name="NVIDIA H100 80GB HBM3",
    compute_capability=(9, 0),
    sam3lib_version="0.1.0",
    build_options=(("export_opset", "18"),),
)

# One different value per field: each must give another engine.
OTHER_VALUES: dict[str, Any] = {
    "weights_sha256": "1e" * 32,
    "graph": "text_encoder",
    "precision": "bf16",
    "profile": (("text_mask", (1, 32), (4, 32), (8, 32)), ("box_mask", (1, 4), (4, 4), (8, 4))),
    "tensorrt_version": "10.8.0",
    "gpu_name": "NVIDIA A100-SXM4-80GB",
    "compute_capability": (8, 0),
    "sam3lib_version": "0.2.0",
    "build_options": (("export_opset", "19"),),
}

ENGINE = b"serialized engine \x00\x01\x02" * 100


class Recorder:
    """A ``build`` that counts its calls and returns ``data``."""

    def __init__(self, data: bytes = ENGINE, delay_s: float = 0.0) -> None:
        self.data = data
        self.delay_s = delay_s
        self.calls = 0

    def __call__(self) -> bytes:
        self.calls += 1
        time.sleep(self.delay_s)
        return self.data


def loaded(data: bytes) -> str:
    """A ``check`` that accepts anything: what the test gets back."""
    return f"engine of {len(data)} bytes"


@pytest.fixture
def cache(tmp_path: Path) -> EngineCache:
    return EngineCache(tmp_path / "engines")


@pytest.fixture
def no_warnings() -> Iterator[None]:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def _files(cache: EngineCache) -> list[str]:
    """Every file in the cache directory, lock files aside (they hold no data)."""
    if not cache.root.exists():
        return []
    return sorted(p.name for p in cache.root.iterdir() if not p.name.endswith(".lock"))


# --- keys ----------------------------------------------------------------------------------


def test_every_field_changes_the_digest() -> None:
    assert set(OTHER_VALUES) == {f.name for f in dataclasses.fields(EngineKey)}
    digests = {KEY.digest()}
    for name, value in OTHER_VALUES.items():
        digests.add(dataclasses.replace(KEY, **{name: value}).digest())
    assert len(digests) == 1 + len(OTHER_VALUES)


def test_equal_keys_have_equal_digests_and_file_names() -> None:
    twin = EngineKey(**{f.name: getattr(KEY, f.name) for f in dataclasses.fields(EngineKey)})
    assert twin.digest() == KEY.digest()
    assert twin.file_stem() == KEY.file_stem()
    assert KEY.file_stem().startswith("decoder-fp16-")


def test_digest_is_the_same_in_another_process() -> None:
    # A fresh interpreter with another hash seed: a digest built on hash() would differ.
    script = (
        "from sam3lib.backends.engine_cache import EngineKey\n"
        f"print(EngineKey(**{dataclasses.asdict(KEY)!r}).digest())\n"
    )
    environment = {**os.environ, "PYTHONHASHSEED": "12345"}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=environment, check=True
    )
    assert result.stdout.strip() == KEY.digest()


def test_default_root_follows_sam3lib_cache_and_is_not_created(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAM3LIB_CACHE", str(tmp_path / "cache"))
    assert default_engine_cache_dir() == tmp_path / "cache" / "tensorrt"
    assert EngineCache().root == tmp_path / "cache" / "tensorrt"
    monkeypatch.delenv("SAM3LIB_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert EngineCache().root == tmp_path / "home" / ".cache" / "sam3lib" / "tensorrt"
    assert not (tmp_path / "cache").exists() and not (tmp_path / "home").exists()


# --- building and loading ------------------------------------------------------------------


def test_builds_once_then_loads(cache: EngineCache, no_warnings: None) -> None:
    build = Recorder()
    assert cache.load_or_build(KEY, build, loaded) == loaded(ENGINE)
    assert cache.load_or_build(KEY, build, loaded) == loaded(ENGINE)
    assert build.calls == 1
    assert cache.engine_path(KEY).read_bytes() == ENGINE
    sidecar = json.loads(cache.sidecar_path(KEY).read_text())
    assert sidecar["key"] == KEY.to_json()
    assert sidecar["size"] == len(ENGINE)
    assert _files(cache) == sorted([cache.engine_path(KEY).name, cache.sidecar_path(KEY).name])


def test_a_different_key_builds_its_own_engine(cache: EngineCache, no_warnings: None) -> None:
    cache.load_or_build(KEY, Recorder(), loaded)
    other = dataclasses.replace(KEY, tensorrt_version="10.8.0")
    rebuild = Recorder(b"engine for TensorRT 10.8")
    assert cache.load_or_build(other, rebuild, bytes.decode) == "engine for TensorRT 10.8"
    assert rebuild.calls == 1
    assert cache.engine_path(KEY).read_bytes() == ENGINE  # the first entry is untouched


def test_a_failing_build_stores_nothing(cache: EngineCache) -> None:
    def build() -> bytes:
        raise RuntimeError("out of GPU memory")

    with pytest.raises(RuntimeError, match="out of GPU memory"):
        cache.load_or_build(KEY, build, loaded)
    assert _files(cache) == []


def test_fresh_bytes_refused_by_check_raise_and_are_not_stored(cache: EngineCache) -> None:
    def check(data: bytes) -> str:
        raise ValueError("cannot deserialize")

    with pytest.raises(ValueError, match="cannot deserialize"):
        cache.load_or_build(KEY, Recorder(), check)
    assert _files(cache) == []


# --- crash safety --------------------------------------------------------------------------


def _crash_on_replace(monkeypatch: pytest.MonkeyPatch, call: int) -> None:
    """Make the ``call``-th ``os.replace`` (1: engine, 2: sidecar) fail as a crash would."""
    real = os.replace
    calls = []

    def replace(source: Any, target: Any) -> None:
        calls.append(target)
        if len(calls) == call:
            raise OSError("simulated crash")
        real(source, target)

    monkeypatch.setattr(os, "replace", replace)


def test_crash_while_writing_the_engine_leaves_no_entry(
    cache: EngineCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    _crash_on_replace(monkeypatch, call=1)
    with pytest.raises(OSError, match="simulated crash"):
        cache.load_or_build(KEY, Recorder(), loaded)
    assert _files(cache) == []  # not even the temporary file
    monkeypatch.undo()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no entry at all: a plain build, no warning
        build = Recorder()
        assert cache.load_or_build(KEY, build, loaded) == loaded(ENGINE)
    assert build.calls == 1


def test_crash_before_the_sidecar_leaves_an_entry_that_is_rebuilt(
    cache: EngineCache, monkeypatch: pytest.MonkeyPatch
) -> None:
    _crash_on_replace(monkeypatch, call=2)
    with pytest.raises(OSError, match="simulated crash"):
        cache.load_or_build(KEY, Recorder(b"half-written entry"), loaded)
    assert _files(cache) == [cache.engine_path(KEY).name]  # an engine nothing vouches for
    monkeypatch.undo()
    build = Recorder()
    with pytest.warns(EngineCacheWarning, match="no readable metadata"):
        assert cache.load_or_build(KEY, build, loaded) == loaded(ENGINE)
    assert build.calls == 1


# --- corruption and staleness --------------------------------------------------------------


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-7])


def _flip_a_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _empty(path: Path) -> None:
    path.write_bytes(b"")


@pytest.mark.parametrize("damage", [_truncate, _flip_a_byte, _empty])
def test_a_corrupt_engine_is_rebuilt_with_a_warning(
    cache: EngineCache, damage: Callable[[Path], None]
) -> None:
    cache.load_or_build(KEY, Recorder(), loaded)
    damage(cache.engine_path(KEY))
    build = Recorder()
    with pytest.warns(EngineCacheWarning, match="checksum mismatch"):
        assert cache.load_or_build(KEY, build, loaded) == loaded(ENGINE)
    assert build.calls == 1
    assert cache.engine_path(KEY).read_bytes() == ENGINE
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the repaired entry loads silently
        assert cache.load_or_build(KEY, build, loaded) == loaded(ENGINE)
    assert build.calls == 1


@pytest.mark.parametrize(
    ("sidecar", "reason"),
    [
        ("{not json", "no readable metadata"),
        ('{"format": 99}', "unknown format"),
        (json.dumps({"format": 1, "key": {"graph": "other"}}), "different key"),
    ],
)
def test_a_bad_sidecar_is_rebuilt_with_a_warning(
    cache: EngineCache, sidecar: str, reason: str
) -> None:
    cache.load_or_build(KEY, Recorder(), loaded)
    cache.sidecar_path(KEY).write_text(sidecar)
    build = Recorder()
    with pytest.warns(EngineCacheWarning, match=reason):
        cache.load_or_build(KEY, build, loaded)
    assert build.calls == 1
    assert json.loads(cache.sidecar_path(KEY).read_text())["key"] == KEY.to_json()


def test_a_missing_engine_file_is_rebuilt_with_a_warning(cache: EngineCache) -> None:
    cache.load_or_build(KEY, Recorder(), loaded)
    cache.engine_path(KEY).unlink()
    build = Recorder()
    with pytest.warns(EngineCacheWarning, match="unreadable"):
        cache.load_or_build(KEY, build, loaded)
    assert build.calls == 1


def test_an_engine_refused_when_loaded_is_rebuilt(cache: EngineCache) -> None:
    """Intact bytes TensorRT will not load (a driver update, say) count as stale."""
    cache.load_or_build(KEY, Recorder(b"old engine"), bytes.decode)

    def check(data: bytes) -> str:
        if data == b"old engine":
            raise RuntimeError("engine plan file is incompatible")
        return data.decode()

    build = Recorder(b"new engine")
    with pytest.warns(EngineCacheWarning, match="refused when loaded.*incompatible"):
        assert cache.load_or_build(KEY, build, check) == "new engine"
    assert build.calls == 1
    assert cache.engine_path(KEY).read_bytes() == b"new engine"


# --- concurrency ---------------------------------------------------------------------------


def test_concurrent_builders_of_one_key_build_once(cache: EngineCache, no_warnings: None) -> None:
    build = Recorder(delay_s=0.3)  # long enough that the second caller arrives mid-build
    results: list[str] = []
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            results.append(EngineCache(cache.root).load_or_build(KEY, build, loaded))
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert results == [loaded(ENGINE)] * 3
    assert build.calls == 1
    assert _files(cache) == sorted([cache.engine_path(KEY).name, cache.sidecar_path(KEY).name])


# --- timing cache --------------------------------------------------------------------------


def test_timing_cache_is_saved_and_shared_per_tensorrt_version_and_gpu(
    cache: EngineCache,
) -> None:
    assert cache.load_timing_cache(KEY) is None
    cache.save_timing_cache(KEY, b"timings v1")
    assert cache.load_timing_cache(KEY) == b"timings v1"
    # Another graph or precision on the same TensorRT and GPU reuses it...
    assert cache.load_timing_cache(dataclasses.replace(KEY, graph="image_encoder")) == (
        b"timings v1"
    )
    assert cache.load_timing_cache(dataclasses.replace(KEY, precision="fp32")) == b"timings v1"
    # ...another TensorRT or GPU does not.
    for name in ("tensorrt_version", "gpu_name", "compute_capability"):
        assert (
            cache.load_timing_cache(dataclasses.replace(KEY, **{name: OTHER_VALUES[name]})) is None
        )
    cache.save_timing_cache(KEY, b"timings v2")
    assert cache.load_timing_cache(KEY) == b"timings v2"
    assert _files(cache) == [cache.timing_cache_path(KEY).name]  # no temporary files left
