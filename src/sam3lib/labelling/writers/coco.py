"""COCO instance segmentation: ``annotations.json``, read by pycocotools and every COCO tool.

Categories are the prompts in order, ids from 1; images are numbered from 1 in source order
(failed images are left out and listed in ``errors.jsonl``); each annotation carries the
model's ``score`` as COCO results do, its box as ``[x, y, w, h]`` and its mask as a compressed
RLE or as polygons. The file is streamed (images, then annotations, each from a pass over the
records), so a run of any size is written in bounded memory.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from sam3lib.labelling.atomic import atomic_writer
from sam3lib.labelling.records import Record, is_error
from sam3lib.labelling.settings import MaskEncoding
from sam3lib.version import __version__

__all__ = ["write_coco"]


def write_coco(
    path: Path,
    records: Callable[[], Iterable[Record]],
    prompts: Sequence[str],
    queries: Sequence[str | None],
    mask_encoding: MaskEncoding,
) -> None:
    """Write the COCO dataset of ``records()`` (called twice: one pass per array) to ``path``."""
    header = {
        "info": {"description": "labelled by sam3lib (SAM 3)", "version": __version__},
        "licenses": [],
        "categories": [
            {"id": number, "name": prompt, "supercategory": "", "query": query}
            for number, (prompt, query) in enumerate(zip(prompts, queries, strict=True), 1)
        ],
    }
    with atomic_writer(path) as file:
        file.write(json.dumps(header, ensure_ascii=False)[:-1])
        file.write(', "images": ')
        _write_array(file, (_image(number, record) for number, record in _numbered(records())))
        file.write(', "annotations": ')
        _write_array(file, _annotations(records(), mask_encoding))
        file.write("}\n")


def _numbered(records: Iterable[Record]) -> Iterator[tuple[int, Record]]:
    labelled = (record for record in records if not is_error(record))
    return enumerate(labelled, start=1)


def _image(number: int, record: Record) -> dict[str, Any]:
    return {
        "id": number,
        "file_name": record["file_name"],
        "height": record["height"],
        "width": record["width"],
    }


def _annotations(
    records: Iterable[Record], mask_encoding: MaskEncoding
) -> Iterator[dict[str, Any]]:
    annotation_id = 0
    for image_id, record in _numbered(records):
        for instance in record["instances"]:
            annotation_id += 1
            x0, y0, x1, y1 = instance["box"]
            yield {
                "id": annotation_id,
                "image_id": image_id,
                "category_id": instance["category"],
                "segmentation": instance["rle"] if mask_encoding == "rle" else instance["polygons"],
                "area": instance["area"],
                "bbox": [x0, y0, x1 - x0, y1 - y0],
                "iscrowd": 0,
                "score": instance["score"],
            }


def _write_array(file: IO[str], values: Iterable[Any]) -> None:
    file.write("[")
    for position, value in enumerate(values):
        file.write(("," if position else "") + "\n" + json.dumps(value, ensure_ascii=False))
    file.write("\n]")
