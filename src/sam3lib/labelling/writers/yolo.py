"""YOLO segmentation: ``labels/<image>.txt``, ``images/<image>`` and ``data.yaml``.

Ultralytics finds an image's labels by swapping ``images`` for ``labels`` in its path, so the
dataset holds both trees side by side: ``images/`` links to the source images (a copy where
links are not possible; in-memory images are written as PNG) and ``labels/`` holds one text
file per image, one line per polygon: ``class x0 y0 x1 y1 ...`` with coordinates divided by
the image's width and height, classes from 0 in prompt order. A mask in several parts gives
one line per part; holes are kept through zero-width cuts (see
:mod:`sam3lib.formats.polygons`). An image without instances gets an empty file, which YOLO
trainers read as a background image.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path

from sam3lib.labelling.atomic import atomic_writer, write_atomic
from sam3lib.labelling.records import Record, dataset_path, is_error

__all__ = ["write_yolo"]


def yolo_collisions(file_names: Iterable[str]) -> list[str]:
    """File names that would share a label file (``a.jpg`` and ``a.png`` of one folder both
    read ``labels/a.txt`` in every YOLO trainer), each group joined by `` / ``."""
    groups: dict[str, list[str]] = {}
    for name in file_names:
        groups.setdefault(dataset_path(name).with_suffix("").as_posix(), []).append(name)
    return [" / ".join(names) for names in groups.values() if len(names) > 1]


def write_yolo(out: Path, records: Iterable[Record], prompts: Sequence[str]) -> None:
    """Write ``labels/``, ``images/`` and ``data.yaml`` under ``out``.

    Args:
        out: the dataset directory.
        records: every record, in source order.
        prompts: class names, class 0 first.
    """
    for record in records:
        if is_error(record):
            continue
        relative = dataset_path(record["file_name"])
        label_path = out / "labels" / relative.with_suffix(".txt")
        with atomic_writer(label_path) as file:
            for line in _label_lines(record):
                file.write(line + "\n")
        if "path" in record:  # in-memory images were saved into images/ during the run
            _link(Path(record["path"]), out / "images" / relative)
    write_atomic(out / "data.yaml", _data_yaml(out, prompts))


def _label_lines(record: Record) -> Iterable[str]:
    width, height = record["width"], record["height"]
    for instance in record["instances"]:
        for polygon in instance["polygons"]:
            coordinates = [
                f"{value / (width if position % 2 == 0 else height):.6f}"
                for position, value in enumerate(polygon)
            ]
            yield " ".join([str(instance["category"] - 1), *coordinates])


def _link(source: Path, target: Path) -> None:
    if target.is_symlink() or target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.symlink(source.resolve(), target)
    except OSError:  # no symlinks here (Windows without the privilege, some mounts): copy,
        # atomically, since an existing target is taken as done
        with source.open("rb") as original, atomic_writer(target, "wb") as copy:
            shutil.copyfileobj(original, copy)


def _data_yaml(out: Path, prompts: Sequence[str]) -> str:
    names = "".join(
        f"  {number}: {_yaml_string(prompt)}\n" for number, prompt in enumerate(prompts)
    )
    return (
        "# YOLO segmentation dataset written by sam3lib label\n"
        f"path: {_yaml_string(str(out.resolve()))}\n"
        "train: images\n"
        "val: images\n"
        f"nc: {len(prompts)}\n"
        f"names:\n{names}"
    )


def _yaml_string(text: str) -> str:
    # A double-quoted YAML scalar: JSON string escaping is valid YAML.
    return json.dumps(text, ensure_ascii=False)
