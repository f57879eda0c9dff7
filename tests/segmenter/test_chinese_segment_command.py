"""``sam3lib segment`` with Chinese prompts: translated by default, as typed with
``--no-translate``; the summary and the JSON show both the prompt and the English query."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from helpers.extras import needs_zh
from sam3lib import Segmenter
from sam3lib.cli import main

pytestmark = needs_zh


@pytest.fixture()
def photo_file(photo: npt.NDArray[np.uint8], tmp_path: Path) -> Path:
    path = tmp_path / "街道.png"  # a Chinese file name too
    Image.fromarray(photo).save(path)
    return path


def test_a_chinese_prompt_is_translated_and_both_are_reported(
    tiny_checkpoint_dir: Path,
    segmenter: Segmenter,
    photo_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    report = tmp_path / "out.json"
    argv = ["segment", str(photo_file), "--prompt", "红色的汽车", "--prompt", "dog"]
    argv += ["--model", str(tiny_checkpoint_dir), "--threshold", "0.1"]
    assert main([*argv, "--json", str(report)]) == 0

    printed = capsys.readouterr().out
    assert "红色的汽车 → red car:" in printed
    assert "  dog:" in printed  # English: no arrow
    results = json.loads(report.read_text(encoding="utf-8"))["images"][0]["results"]
    assert [(r["prompt"], r["query"]) for r in results] == [
        ("红色的汽车", "red car"),
        ("dog", "dog"),
    ]
    want = segmenter.segment(photo_file, "red car", threshold=0.1)
    assert len(want) > 0
    got = results[0]["instances"]
    assert [i["score"] for i in got] == pytest.approx(want.scores.tolist())
    assert {i["label"] for i in got} == {"红色的汽车"}  # labels stay the user's words


def test_no_translate_sends_the_prompt_as_typed(
    tiny_checkpoint_dir: Path, photo_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "out.json"
    argv = ["segment", str(photo_file), "--prompt", "红色的汽车", "--no-translate"]
    assert main([*argv, "--model", str(tiny_checkpoint_dir), "--json", str(report)]) == 0

    assert "  红色的汽车: " in capsys.readouterr().out
    (result,) = json.loads(report.read_text(encoding="utf-8"))["images"][0]["results"]
    assert (result["prompt"], result["query"]) == ("红色的汽车", "红色的汽车")
