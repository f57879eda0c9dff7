"""``sam3lib app``'s options reach the model it starts with; bad ones stop it before the page
is built (the page itself is tested in the other files)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sam3lib import Segmenter
from sam3lib.app.command import main


class _Page:
    """Stands in for the Gradio page: records what it was built with, launches nothing."""

    def __init__(self, segmenter: Segmenter, *, source: str | None, **_: Any) -> None:
        self.segmenter, self.source = segmenter, source
        self.launched: dict[str, Any] = {}

    def queue(self, **_: Any) -> None:
        pass

    def launch(self, **options: Any) -> None:
        self.launched = options


@pytest.fixture
def pages(monkeypatch: pytest.MonkeyPatch) -> list[_Page]:
    built: list[_Page] = []

    def build_app(segmenter: Segmenter, **options: Any) -> _Page:
        built.append(_Page(segmenter, **options))
        return built[-1]

    monkeypatch.setattr("sam3lib.app.ui.build_app", build_app)
    return built


def test_the_model_starts_at_the_resolution_asked_for(
    tiny_checkpoint_dir: Path, pages: list[_Page]
) -> None:
    model = ["--model", str(tiny_checkpoint_dir), "--precision", "bf16"]
    assert main([*model, "--resolution", "252", "--port", "7999", "--no-translate"]) == 0
    (page,) = pages
    backend = page.segmenter.backend
    assert (backend.name, backend.precision, backend.config.vision.image_size) == (
        "amp",
        "bf16",
        252,
    )
    assert page.segmenter.translator is None
    assert page.source == str(tiny_checkpoint_dir)  # other precisions load from it, at 252
    assert page.launched["server_port"] == 7999


def test_without_a_resolution_the_model_runs_at_its_own(
    tiny_checkpoint_dir: Path, pages: list[_Page]
) -> None:
    assert main(["--model", str(tiny_checkpoint_dir)]) == 0
    assert pages[0].segmenter.backend.config.vision.image_size == 168


def test_a_resolution_the_model_cannot_run_stops_it_before_the_page(
    tiny_checkpoint_dir: Path, pages: list[_Page], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--model", str(tiny_checkpoint_dir), "--resolution", "170"]) == 1
    assert "error: resolution: 170 does not run" in capsys.readouterr().err
    assert not pages
