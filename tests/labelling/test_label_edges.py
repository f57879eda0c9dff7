"""What a demanding user does to a dataset directory: writes it inside the source, changes the
source between runs, runs twice at once, gives bad thresholds, same-stem images for YOLO."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from filelock import FileLock
from pycocotools.coco import COCO

from labelling.conftest import THRESHOLD, write_pictures
from sam3lib import InputError, label


def _label(source, out: Path, model: Path, **options):
    options = {"threshold": THRESHOLD, "progress": False, **options}
    return label(source, ["cat"], out, model=model, **options)


def test_a_dataset_inside_its_source_is_not_labelled_as_source(tiny_checkpoint_dir, tmp_path):
    source = tmp_path / "pictures"
    write_pictures(source, 3)
    first = _label(source, source / "dataset", tiny_checkpoint_dir, format="yolo", overlays=True)
    again = _label(source, source / "dataset", tiny_checkpoint_dir, format="yolo", overlays=True)
    assert first.images == again.images == 3
    assert again.processed == 0


def test_a_changed_source_gives_the_dataset_a_fresh_run_gives(tiny_checkpoint_dir, tmp_path):
    source = tmp_path / "pictures"
    write_pictures(source, 5)
    _label(source, tmp_path / "resumed", tiny_checkpoint_dir)
    (source / "p001.png").rename(source / "z001.png")  # renamed
    (source / "p003.png").unlink()  # removed
    write_pictures(tmp_path / "more", 2, seed=9)
    shutil.copy(tmp_path / "more" / "p000.jpg", source / "a000.jpg")  # added, sorts first
    resumed = _label(source, tmp_path / "resumed", tiny_checkpoint_dir)
    _label(source, tmp_path / "fresh", tiny_checkpoint_dir)
    assert resumed.processed == 2  # the added and the renamed one
    for name in ("annotations.json", "errors.jsonl"):
        assert (tmp_path / "resumed" / name).read_bytes() == (
            tmp_path / "fresh" / name
        ).read_bytes()


def test_a_second_run_on_the_same_directory_is_refused(tiny_checkpoint_dir, tmp_path):
    write_pictures(tmp_path / "pictures", 1)
    (tmp_path / "out" / "run").mkdir(parents=True)
    with (
        FileLock(str(tmp_path / "out" / "run" / "lock")),
        pytest.raises(InputError, match="another run is writing"),
    ):
        _label(tmp_path / "pictures", tmp_path / "out", tiny_checkpoint_dir)


@pytest.mark.parametrize(
    ("option", "message"),
    [({"threshold": 2}, "threshold"), ({"top_k": 0}, "top_k"), ({"nms_iou": -1}, "nms_iou")],
)
def test_bad_thresholds_stop_the_run_before_anything_is_written(
    tiny_checkpoint_dir, tmp_path, option, message
):
    write_pictures(tmp_path / "pictures", 1)
    with pytest.raises(InputError, match=message):
        _label(tmp_path / "pictures", tmp_path / "out", tiny_checkpoint_dir, **option)
    assert not (tmp_path / "out").exists()


def test_images_that_would_share_a_yolo_label_file_are_refused(tiny_checkpoint_dir, tmp_path):
    write_pictures(tmp_path / "pictures", 2)
    shutil.copy(tmp_path / "pictures" / "p000.jpg", tmp_path / "pictures" / "p001.jpg")
    with pytest.raises(InputError, match=r"p001\.jpg / p001\.png"):
        _label(tmp_path / "pictures", tmp_path / "out", tiny_checkpoint_dir, format="yolo")


def test_instances_with_empty_masks_are_left_out(tiny_checkpoint_dir, tmp_path):
    write_pictures(tmp_path / "pictures", 3)
    summary = _label(
        tmp_path / "pictures", tmp_path / "out", tiny_checkpoint_dir, mask_threshold=0.9
    )
    dataset = json.loads((tmp_path / "out" / "annotations.json").read_text())
    assert all(annotation["area"] > 0 for annotation in dataset["annotations"])
    assert summary.instances["cat"] == len(dataset["annotations"])
    coco = COCO(str(tmp_path / "out" / "annotations.json"))
    for annotation in coco.loadAnns(coco.getAnnIds()):
        assert coco.annToMask(annotation).sum() == annotation["area"]


def test_failed_images_stay_failed_unless_retried(tiny_checkpoint_dir, tmp_path):
    source = tmp_path / "pictures"
    write_pictures(source, 2)
    (source / "late.png").write_bytes(b"")  # still being copied when the run began
    first = _label(source, tmp_path / "out", tiny_checkpoint_dir)
    assert (first.images, first.failed) == (2, 1)
    shutil.copy(source / "p001.png", source / "late.png")
    again = _label(source, tmp_path / "out", tiny_checkpoint_dir)
    assert (again.processed, again.images, again.failed) == (0, 2, 1)
    retried = _label(source, tmp_path / "out", tiny_checkpoint_dir, retry_failed=True)
    assert (retried.processed, retried.images, retried.failed) == (1, 3, 0)
    assert (tmp_path / "out" / "errors.jsonl").read_text() == ""
    names = [
        i["file_name"]
        for i in json.loads((tmp_path / "out" / "annotations.json").read_text())["images"]
    ]
    assert names == ["late.png", "p000.jpg", "p001.png"]
