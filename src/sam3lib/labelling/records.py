"""One image's labels as a plain JSON-ready record: what shards store and datasets are made of.

A record is self-contained (file name, size, every instance with its category, score, box,
area and RLE mask; polygons when the format needs them; the English queries; the seconds per
stage), so that the final datasets are written from records alone, in any order of arrival.

    {"index": 3, "key": "street/a.jpg", "file_name": "street/a.jpg", "height": 480,
     "width": 640, "queries": ["car"], "timings": {...},
     "instances": [{"category": 1, "score": 0.91, "box": [x0, y0, x1, y1], "area": 1234,
                    "rle": {"size": [480, 640], "counts": "..."}, "polygons": [[...]]}]}

A failed image is ``{"index", "key", "file_name", "error": reason}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import PurePosixPath
from typing import Any

from sam3lib.formats import encode_rle, mask_to_polygons
from sam3lib.labelling.sources import SourceItem
from sam3lib.result import SegmentationResult

__all__ = ["dataset_path", "error_record", "image_record", "is_error", "picture_path"]

Record = dict[str, Any]


def image_record(
    item: SourceItem,
    image_size: tuple[int, int],
    results: Sequence[SegmentationResult],
    *,
    polygons: bool,
    timings: dict[str, float],
) -> Record:
    """The record of one labelled image: ``results[c]`` answers prompt ``c`` (category c+1).

    An instance whose mask is empty at the image's size (a detection whose mask logits stay
    under ``mask_threshold``) is left out: COCO tools fail on it, YOLO cannot express it.
    """
    instances: list[dict[str, Any]] = []
    for category, result in enumerate(results, start=1):
        for mask, box, score in zip(result.masks, result.boxes, result.scores, strict=True):
            area = int(mask.sum())
            if area == 0:
                continue
            instance: dict[str, Any] = {
                "category": category,
                "score": float(score),
                "box": [float(value) for value in box],
                "area": area,
                "rle": encode_rle(mask),
            }
            if polygons:
                instance["polygons"] = mask_to_polygons(mask)
            instances.append(instance)
    return {
        **_identity(item),
        "height": image_size[0],
        "width": image_size[1],
        "queries": [result.query for result in results],
        "instances": instances,
        "timings": {stage: round(seconds, 6) for stage, seconds in timings.items()},
    }


def error_record(item: SourceItem, reason: str) -> Record:
    """The record of an image that could not be labelled (the reason cut to 2000 characters:
    shards.py tells failures by their short lines)."""
    return {**_identity(item), "error": reason[:2000]}


def is_error(record: Record) -> bool:
    return "error" in record


def picture_path(file_name: str) -> PurePosixPath:
    """Where an image's overlay or instance map goes: its dataset path plus ``.png``, so that
    ``a.jpg`` and ``a.png`` of one folder keep apart (``a.jpg.png``, ``a.png.png``)."""
    path = dataset_path(file_name)
    return path.with_name(path.name + ".png")


def dataset_path(file_name: str) -> PurePosixPath:
    """Where an image's files go inside the dataset directory: its file name made relative
    (``/data/a.jpg`` → ``data/a.jpg``, ``../b.jpg`` → ``__/b.jpg``), so nothing is written
    outside the dataset."""
    parts = [part if part != ".." else "__" for part in PurePosixPath(file_name).parts]
    relative = [part for part in parts if part not in ("/", "")]
    return PurePosixPath(*relative)


def _identity(item: SourceItem) -> Record:
    # index and key first: shards.py reads them from the start of each line.
    identity: Record = {"index": item.index, "key": item.key, "file_name": item.file_name}
    if item.path is not None:  # where the image is, for datasets that link to it (YOLO)
        identity["path"] = str(item.path.resolve())
    return identity
