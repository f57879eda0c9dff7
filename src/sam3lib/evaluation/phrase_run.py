"""The model over SA-Co entries: each image with its own phrases, encoded once, resumable.

SA-Co asks a different set of phrases of every image, so the labelling pipeline (one prompt
list for all images) does not fit. This loop encodes each image once and decodes all its
phrases together (:meth:`Segmenter.segment` on the :class:`~sam3lib.ImageEmbedding`). Each
image's results are appended to ``work/predictions.jsonl`` and flushed to disk as soon as they
exist: a run that dies loses at most the image it was on, and running again skips every image
already there. An image that cannot be read is recorded with its reason and the run goes on
(its phrases are then scored as if nothing was found).
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from sam3lib.backends.base import Precision
from sam3lib.errors import InputError, Sam3Error
from sam3lib.evaluation.ground_truth import GroundTruth, Query

__all__ = ["predict_phrases"]

_LOG = "predictions.jsonl"


def predict_phrases(
    truth: GroundTruth,
    images: Path,
    work: Path,
    *,
    model: str | os.PathLike[str] = "facebook/sam3",
    backend: str | None = None,
    precision: Precision = "fp32",
    device: str = "cpu",
    resolution: int | None = None,
    threshold: float = 0.05,
    progress: bool | None = None,
) -> list[dict[str, Any]]:
    """COCO results (``image_id`` = the entry) for every SA-Co entry of ``truth``.

    Raises:
        InputError: ``work`` holds a run made with other settings.
    """
    from sam3lib.segmenter import Segmenter  # the model only when it runs

    settings = {
        "model": os.fspath(model),
        "backend": backend,
        "precision": precision,
        "resolution": resolution,
        "threshold": threshold,
    }
    work.mkdir(parents=True, exist_ok=True)
    log = work / _LOG
    done = _read_log(log, settings)
    by_image: dict[str, list[Query]] = defaultdict(list)
    for query in truth.queries:
        by_image[query.file_name].append(query)
    todo = [name for name in by_image if name not in done]
    if todo:
        segmenter = Segmenter.from_pretrained(
            model,
            backend=backend,
            precision=precision,
            device=device,
            resolution=resolution,
        )
        with log.open("a", encoding="utf-8") as out:
            if log.stat().st_size and not log.read_bytes().endswith(b"\n"):
                out.write("\n")  # end the line a crash cut short: the next entry stays whole
            if not done and not log.stat().st_size:
                _append(out, {"settings": settings})
            for name in tqdm(todo, desc="images", unit="image", disable=_hidden(progress)):
                _append(out, _one_image(segmenter, images / name, name, by_image[name], threshold))
        done = _read_log(log, settings)
    return [result for entry in done.values() for result in entry.get("results", [])]


def _one_image(
    segmenter: Any, path: Path, name: str, queries: list[Query], threshold: float
) -> dict[str, Any]:
    phrases = list(dict.fromkeys(query.phrase for query in queries))
    try:
        embedding = segmenter.encode_image(path)
        answers = segmenter.segment(embedding, phrases, threshold=threshold)
    except Sam3Error as error:  # a damaged image: recorded, and the run goes on
        return {"file_name": name, "error": str(error)[:2000], "results": []}
    results = []
    for answer in answers:
        rles = answer.to_coco_rle()
        for query in queries:
            if query.phrase != answer.prompt:
                continue
            for index, (score, box) in enumerate(
                zip(answer.scores.tolist(), answer.boxes.tolist(), strict=True)
            ):
                x0, y0, x1, y1 = box
                results.append(
                    {
                        "image_id": query.id,
                        "category_id": 1,
                        "score": score,
                        "bbox": [x0, y0, x1 - x0, y1 - y0],
                        "segmentation": rles[index],
                    }
                )
    return {"file_name": name, "results": results}


def _read_log(log: Path, settings: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Entries already written, by file name; a line cut short by a crash is ignored."""
    entries: dict[str, dict[str, Any]] = {}
    for number, entry in enumerate(_lines(log)):
        if number == 0:
            if entry.get("settings") != dict(settings):
                raise InputError(
                    f"work: '{log.parent}' holds a run made with other settings "
                    f"({entry.get('settings')}); use another --work directory or delete it"
                )
            continue
        entries[entry["file_name"]] = entry
    return entries


def _lines(log: Path) -> Iterator[dict[str, Any]]:
    if not log.exists():
        return
    for line in log.read_text(encoding="utf-8").splitlines():
        try:
            yield json.loads(line)
        except json.JSONDecodeError:  # the last line of a run that died while writing it
            continue


def _append(out: Any, entry: Mapping[str, Any]) -> None:
    out.write(json.dumps(entry) + "\n")
    out.flush()
    os.fsync(out.fileno())  # on disk before the next image starts


def _hidden(progress: bool | None) -> bool | None:
    return None if progress is None else not progress
