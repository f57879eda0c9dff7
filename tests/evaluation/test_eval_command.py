"""``sam3lib eval`` end to end: a generated COCO dataset, the tiny checkpoint, every output."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from evaluation.synthetic import annotation, box_mask, write_json
from sam3lib.cli import main


@pytest.fixture()
def dataset(tmp_path: Path) -> tuple[Path, Path]:
    """Three 64 x 80 pictures, a bright square each (the "cat"), and their COCO file."""
    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(0)
    images, annotations = [], []
    for number in range(1, 4):
        pixels = rng.integers(0, 60, (64, 80, 3)).astype(np.uint8)
        box = (10 * number, 12, 10 * number + 24, 40)
        pixels[box_mask(64, 80, box)] = 220
        Image.fromarray(pixels).save(folder / f"{number}.png")
        images.append({"id": number, "file_name": f"{number}.png", "height": 64, "width": 80})
        annotations.append({**annotation(box_mask(64, 80, box), number, 1), "id": number})
    truth = {"images": images, "annotations": annotations, "categories": [{"id": 1, "name": "cat"}]}
    return write_json(tmp_path / "gt.json", truth), folder


def test_eval_runs_the_model_and_writes_every_report(
    tiny_checkpoint_dir: Path, dataset: tuple[Path, Path], tmp_path: Path
) -> None:
    truth, images = dataset
    work, report, markdown, plots = (
        tmp_path / name for name in ("work", "r.json", "r.md", "plots")
    )
    argv = ["eval", "--ground-truth", str(truth), "--images", str(images)]
    argv += ["--model", str(tiny_checkpoint_dir), "--threshold", "0.0", "--work", str(work)]
    argv += ["--json", str(report), "--markdown", str(markdown), "--plots", str(plots)]
    assert main(argv) == 0
    data = json.loads(report.read_text())
    for name in ("mask_ap", "box_ap", "miou", "cgf1"):
        assert data[name] is None or -1.0 <= data[name] <= 1.0
    assert data["predictions"]["source"] == "model" and data["predictions"]["count"] > 0
    assert data["ground_truth"] == {
        "kind": "coco",
        "files": [str(truth)],
        "queries": 3,
        "evaluated_queries": 3,
        "phrases": 1,
    }
    assert markdown.read_text().startswith("# Evaluation")
    assert sorted(p.name for p in plots.iterdir()) == [
        "iou_histogram.png",
        "pr_bbox.png",
        "pr_segm.png",
    ]
    # The model's predictions were kept: evaluating the file gives the same numbers.
    again = tmp_path / "again.json"
    argv = ["eval", "--ground-truth", str(truth), "--predictions", str(work / "predictions.json")]
    assert main([*argv, "--json", str(again)]) == 0
    repeated = json.loads(again.read_text())
    for name in ("mask_ap", "box_ap", "miou", "cgf1", "coco", "cgf1_metrics"):
        assert repeated[name] == data[name]


def test_eval_usage_and_input_errors(
    dataset: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    truth, _ = dataset
    assert main(["eval", "--ground-truth", str(truth)]) == 2
    assert "give --predictions" in capsys.readouterr().err
    missing = tmp_path / "none.json"
    assert main(["eval", "--ground-truth", str(missing), "--predictions", str(truth)]) == 1
    assert "ground_truth: no such file" in capsys.readouterr().err
    assert main(["eval", "--ground-truth", str(truth), "--images", str(tmp_path)]) == 1
    assert "ground-truth image(s) not found" in capsys.readouterr().err
