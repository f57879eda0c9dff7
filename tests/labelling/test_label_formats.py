"""The YOLO and JSON lines datasets, overlays and instance maps, through the command; read
back by supervision's YOLO loader and compared with the COCO dataset of the same run."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import supervision
from PIL import Image
from pycocotools.coco import COCO

from labelling.conftest import PROMPTS, THRESHOLD, write_bad_files, write_pictures
from sam3lib.labelling.command import main


@pytest.fixture(scope="module")
def runs(tiny_checkpoint_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """The same flat folder labelled as COCO, YOLO and JSON lines."""
    root = tmp_path_factory.mktemp("formats")
    source = root / "pictures"
    write_pictures(source, 5, seed=1)
    common = [str(source), "--model", str(tiny_checkpoint_dir), "--threshold", str(THRESHOLD)]
    common += [argument for prompt in PROMPTS for argument in ("--prompt", prompt)]
    common += ["--no-progress"]
    for name in ("coco", "yolo", "jsonl"):
        extra = ["--overlays", "--instance-maps"] if name == "jsonl" else []
        assert main([*common, "--format", name, "--out", str(root / name), *extra]) == 0
    return source, root


def test_supervision_reads_the_yolo_dataset_as_the_coco_masks(runs) -> None:
    _, root = runs
    yolo = root / "yolo"
    assert (yolo / "data.yaml").read_text().count("\n  ") == len(PROMPTS)
    dataset = supervision.DetectionDataset.from_yolo(
        images_directory_path=str(yolo / "images"),
        annotations_directory_path=str(yolo / "labels"),
        data_yaml_path=str(yolo / "data.yaml"),
        force_masks=True,
    )
    assert dataset.classes == PROMPTS
    coco = COCO(str(root / "coco" / "annotations.json"))
    compared = 0
    for image_path, _, detections in dataset:
        image = next(i for i in coco.dataset["images"] if i["file_name"] == Path(image_path).name)
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[image["id"]]))
        for class_id in range(len(PROMPTS)):
            # A polygon row per part of each mask: compare the union per class.
            ours = np.zeros((image["height"], image["width"]), bool)
            for a in anns:
                if a["category_id"] == class_id + 1:
                    ours |= coco.annToMask(a).astype(bool)
            theirs = detections.mask[detections.class_id == class_id].any(axis=0)
            # Polygons run along pixel edges, and a rasteriser decides edge pixels its own way:
            # the masks may differ only within one pixel of our mask's boundary.
            band = _dilate(ours) & ~_erode(ours)
            assert not np.any((ours ^ theirs) & ~band)
            assert (ours & theirs).sum() >= 0.5 * ours.sum()
            compared += 1
    assert compared == 5 * len(PROMPTS)


def _dilate(mask: np.ndarray) -> np.ndarray:
    """Mask grown by one pixel in the 8 directions."""
    padded = np.pad(mask, 1)
    height, width = mask.shape
    shifts = [
        padded[1 + dy : 1 + dy + height, 1 + dx : 1 + dx + width]
        for dy in (-1, 0, 1)
        for dx in (-1, 0, 1)
    ]
    return np.logical_or.reduce(shifts)


def _erode(mask: np.ndarray) -> np.ndarray:
    return ~_dilate(~mask)


def _json_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_json_lines_hold_every_instance_with_its_prompt_and_timings(runs) -> None:
    _, root = runs
    lines = _json_lines(root / "jsonl" / "results.jsonl")
    coco = json.loads((root / "coco" / "annotations.json").read_text())
    assert [line["file_name"] for line in lines] == [i["file_name"] for i in coco["images"]]
    instances = [instance for line in lines for instance in line["instances"]]
    assert [i["rle"] for i in instances] == [a["segmentation"] for a in coco["annotations"]]
    assert {i["prompt"] for i in instances} <= set(PROMPTS)
    assert all({"load", "encode_image", "decode"} <= set(line["timings"]) for line in lines)


def test_overlays_and_instance_maps_are_written_per_image(runs) -> None:
    source, root = runs
    lines = _json_lines(root / "jsonl" / "results.jsonl")
    for line in lines:
        stem = line["file_name"] + ".png"  # a.jpg → a.jpg.png: a.png's would be a.png.png
        overlay = Image.open(root / "jsonl" / "overlays" / stem)
        original = Image.open(source / line["file_name"]).convert("RGB")
        assert overlay.size == original.size
        assert np.any(np.asarray(overlay) != np.asarray(original))  # instances drawn
        labels = np.asarray(Image.open(root / "jsonl" / "instance_maps" / stem))
        assert labels.max() == len(line["instances"])


def test_exit_status_three_counts_the_failures(
    tiny_checkpoint_dir: Path, tmp_path: Path, capsys
) -> None:
    write_bad_files(tmp_path / "bad")
    status = main(
        [str(tmp_path / "bad"), "--prompt", "cat", "--out", str(tmp_path / "out"), "--model",
         str(tiny_checkpoint_dir), "--max-pixels", "100000", "--no-progress"]
    )  # fmt: skip
    assert status == 3
    assert "FAILED: 4 image(s)" in capsys.readouterr().out


def test_bad_arguments_are_one_error_line(
    tiny_checkpoint_dir: Path, tmp_path: Path, capsys
) -> None:
    missing = tmp_path / "nowhere"
    status = main(
        [
            str(missing),
            "--prompt",
            "cat",
            "--out",
            str(tmp_path / "o"),
            "--model",
            str(tiny_checkpoint_dir),
        ]
    )
    assert status == 1
    assert f"no such file or directory: '{missing}'" in capsys.readouterr().err
