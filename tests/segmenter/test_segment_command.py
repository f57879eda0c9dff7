"""``sam3lib segment`` end to end on the tiny checkpoint directory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from sam3lib import Segmenter
from sam3lib.app.downloads import label_map
from sam3lib.cli import main
from sam3lib.formats import decode_rle


@pytest.fixture()
def photo_file(photo: npt.NDArray[np.uint8], tmp_path: Path) -> Path:
    path = tmp_path / "street.png"
    Image.fromarray(photo).save(path)
    return path


def test_segment_writes_overlay_and_json_equal_to_the_api(
    tiny_checkpoint_dir: Path, segmenter: Segmenter, photo_file: Path, tmp_path: Path
) -> None:
    overlay, report, labels = tmp_path / "overlay.png", tmp_path / "out.json", tmp_path / "m.png"
    argv = ["segment", str(photo_file), "--prompt", "cat", "--prompt", "red car"]
    argv += ["--model", str(tiny_checkpoint_dir), "--threshold", "0.2"]
    argv += ["--box", "10,10,120,100", "--negative-box", "150,80,240,180"]
    argv += ["--out", str(overlay), "--json", str(report), "--masks", str(labels)]
    assert main(argv) == 0

    expected = segmenter.segment(
        photo_file,
        ["cat", "red car"],
        boxes=[[10, 10, 120, 100], [150, 80, 240, 180]],
        box_labels=[1, 0],
        threshold=0.2,
    )
    data = json.loads(report.read_text())
    results = data["images"][0]["results"]
    assert [r["prompt"] for r in results] == ["cat", "red car"]
    for got, want in zip(results, expected, strict=True):
        assert [i["score"] for i in got["instances"]] == pytest.approx(want.scores.tolist())
        masks = [decode_rle(i["segmentation"]) for i in got["instances"]]
        np.testing.assert_array_equal(np.array(masks).reshape(want.masks.shape), want.masks)
    with Image.open(overlay) as image:
        assert image.size == (250, 190)
    with Image.open(labels) as image:  # instance n (1-based, in JSON order) is pixel value n
        np.testing.assert_array_equal(np.asarray(image), label_map(expected))


def test_several_images_write_one_overlay_each(
    tiny_checkpoint_dir: Path, photo_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    second = tmp_path / "second.png"
    Image.open(photo_file).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(second)
    out = tmp_path / "overlays"
    argv = ["segment", str(photo_file), str(second), "--prompt", "cat"]
    assert main([*argv, "--model", str(tiny_checkpoint_dir), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["second.png", "street.png"]
    assert "cat:" in capsys.readouterr().out


def test_errors_are_reported_not_raised(
    tiny_checkpoint_dir: Path, photo_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["segment", str(photo_file), "--prompt", "cat", "--model", str(tiny_checkpoint_dir)]
    assert main([*argv, "--box", "50,50,10,10"]) == 1
    assert "boxes[0]" in capsys.readouterr().err
    assert main(["segment", str(photo_file), "--model", str(tiny_checkpoint_dir)]) == 2


def test_python_dash_m_runs_the_command(tiny_checkpoint_dir: Path, photo_file: Path) -> None:
    argv = [sys.executable, "-m", "sam3lib", "segment", str(photo_file), "--prompt", "cat"]
    completed = subprocess.run(
        [*argv, "--model", str(tiny_checkpoint_dir)], capture_output=True, text=True, check=False
    )
    assert completed.returncode == 0, completed.stderr
    assert "cat:" in completed.stdout
