"""SA-Co entries through the model: each image with its own phrases, resumable, bad images
recorded (the tiny checkpoint; answers compared with ``Segmenter.segment``)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from evaluation.synthetic import annotation, box_mask, write_json
from sam3lib import Segmenter
from sam3lib.errors import InputError
from sam3lib.evaluation.run import evaluate

ENTRIES = [  # (entry id, image, phrase)
    (11, "a.png", "cat"),
    (12, "a.png", "dog"),
    (13, "b.png", "cat"),
    (14, "broken.png", "cat"),
]


@pytest.fixture()
def saco(tmp_path: Path) -> tuple[Path, Path]:
    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for name in ("a.png", "b.png"):
        pixels = rng.integers(0, 255, (48, 64, 3)).astype(np.uint8)
        Image.fromarray(pixels).save(folder / name)
    (folder / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    images = [
        {
            "id": i,
            "file_name": f,
            "height": 48,
            "width": 64,
            "text_input": t,
            "is_instance_exhaustive": True,
        }
        for i, f, t in ENTRIES
    ]
    cat = {**annotation(box_mask(48, 64, (5, 5, 20, 20)), 11, 1), "id": 1}
    truth = {"images": images, "annotations": [cat], "categories": [{"id": 1, "name": "object"}]}
    return write_json(tmp_path / "saco.json", truth), folder


def test_each_image_is_asked_its_own_phrases(
    tiny_checkpoint_dir: Path, saco: tuple[Path, Path], tmp_path: Path
) -> None:
    truth, images = saco
    work = tmp_path / "work"
    report = evaluate(truth, images=images, work=work, model=tiny_checkpoint_dir, threshold=0.0)
    assert report.details["ground_truth"]["evaluated_queries"] == 4
    lines = [json.loads(line) for line in (work / "predictions.jsonl").read_text().splitlines()]
    assert lines[0]["settings"]["threshold"] == 0.0
    entries = {line["file_name"]: line for line in lines[1:]}
    assert sorted(entries) == ["a.png", "b.png", "broken.png"]
    assert "could not read" in entries["broken.png"]["error"]
    segmenter = Segmenter.from_pretrained(tiny_checkpoint_dir)
    cats, dogs = segmenter.segment(images / "a.png", ["cat", "dog"], threshold=0.0)
    found = entries["a.png"]["results"]
    assert [r["segmentation"] for r in found if r["image_id"] == 11] == cats.to_coco_rle()
    assert [r["score"] for r in found if r["image_id"] == 12] == pytest.approx(dogs.scores.tolist())
    written = json.loads((work / "predictions.json").read_text())
    assert {r["image_id"] for r in written} <= {11, 12, 13}


def test_a_run_cut_short_is_finished_by_the_next(
    tiny_checkpoint_dir: Path, saco: tuple[Path, Path], tmp_path: Path
) -> None:
    truth, images = saco
    work = tmp_path / "work"
    first = evaluate(truth, images=images, work=work, model=tiny_checkpoint_dir, threshold=0.0)
    log = work / "predictions.jsonl"
    complete = log.read_text()
    # As if the process died writing image b's line: half of it is on disk, c's never started.
    lines = complete.splitlines(keepends=True)
    cut = "".join(lines[:2]) + lines[2][: len(lines[2]) // 2]
    log.write_text(cut)
    again = evaluate(truth, images=images, work=work, model=tiny_checkpoint_dir, threshold=0.0)
    assert again.to_dict() == first.to_dict() | {"predictions": again.to_dict()["predictions"]}
    entries = [json.loads(line) for line in log.read_text().splitlines() if line.endswith("}")]
    assert sorted(e.get("file_name", "") for e in entries[1:]) == ["a.png", "b.png", "broken.png"]
    with pytest.raises(InputError, match="holds a run made with other settings"):
        evaluate(truth, images=images, work=work, model=tiny_checkpoint_dir, threshold=0.3)
