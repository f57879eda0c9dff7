"""Predictions as COCO results pointing at queries: read from a file, or made by the model.

A COCO results file (``image_id``, ``category_id``, ``score``, ``segmentation`` and/or
``bbox``, as pycocotools and SAM 3's evaluators read them) refers to images of the ground
truth: for COCO ground truth an (image, category) pair is a query; for SA-Co, ``image_id`` is
the query (the entry) itself. :func:`predict_with_model` runs the labelling pipeline
(:func:`sam3lib.label`: resumable, batched, Ray if asked) over the ground truth's images with
its phrases (or, for SA-Co, each image with its own phrases) and maps the answers back onto the
queries.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sam3lib.errors import InputError
from sam3lib.evaluation.ground_truth import GroundTruth
from sam3lib.evaluation.phrase_run import predict_phrases

__all__ = ["load_predictions", "map_predictions", "predict_with_model"]


def load_predictions(path: str | os.PathLike[str], truth: GroundTruth) -> list[dict[str, Any]]:
    """A COCO results JSON file, mapped onto ``truth``'s queries (see :func:`map_predictions`).

    Raises:
        InputError: the file is missing, not JSON or not a list of results.
    """
    try:
        results = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"predictions: no such file: '{path}'") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"predictions: could not read '{path}' as JSON ({error})") from None
    return map_predictions(results, truth)


def map_predictions(results: object, truth: GroundTruth) -> list[dict[str, Any]]:
    """COCO results (ids of the ground-truth file) → results whose ``image_id`` is the query.

    Raises:
        InputError: not a list of results, or a result without a score, a mask or box, or
            pointing at an image/category the ground truth lacks (the message gives its index).
    """
    if not isinstance(results, list):
        raise InputError("predictions: expected a JSON list of COCO results")
    mapped = []
    for index, result in enumerate(results):
        if not isinstance(result, Mapping):
            raise InputError(f"predictions[{index}]: expected an object, got {result!r:.60}")
        score = result.get("score")
        if isinstance(score, bool) or not isinstance(score, (int, float)):
            raise InputError(f"predictions[{index}]: no numeric 'score'")
        if "segmentation" not in result and "bbox" not in result:
            raise InputError(f"predictions[{index}]: neither 'segmentation' nor 'bbox'")
        mapped.append({**result, "image_id": _query_of(result, index, truth)})
        if truth.kind == "saco":
            mapped[-1]["category_id"] = 1
    return mapped


def _query_of(result: Mapping[str, Any], index: int, truth: GroundTruth) -> int:
    image_id = result.get("image_id")
    if truth.kind == "saco":
        if image_id not in truth.query_ids:
            raise InputError(f"predictions[{index}]: image_id {image_id!r} is no SA-Co entry")
        return int(image_id)
    category_id = result.get("category_id")
    query = None
    if isinstance(image_id, int) and isinstance(category_id, int):
        query = truth.query_id(image_id, category_id)
    if query is None:
        raise InputError(
            f"predictions[{index}]: image_id {image_id!r} with category_id {category_id!r} is "
            "not in the ground truth"
        )
    return query


def predict_with_model(
    truth: GroundTruth,
    images: str | os.PathLike[str],
    work: str | os.PathLike[str],
    **options: Any,
) -> list[dict[str, Any]]:
    """Run the model over ``truth``'s images with its phrases; results mapped onto the queries
    and written to ``work/predictions.json`` (reusable with ``--predictions``).

    COCO ground truth goes through :func:`sam3lib.label` (every category on every image:
    resumable, batched, Ray if asked); SA-Co entries, a different set of phrases per image,
    through :func:`sam3lib.evaluation.phrase_run.predict_phrases` (resumable too).

    Args:
        truth: the ground truth.
        images: the directory the ground truth's ``file_name`` values are relative to.
        work: the run's directory: run again with the same settings to finish a run that
            stopped.
        **options: ``model``, ``backend``, ``precision``, ``device``, ``resolution``,
            ``threshold``, and for COCO anything else :func:`sam3lib.label` takes.

    Raises:
        InputError: an image missing from ``images``, file names that repeat.
    """
    root, out = Path(images), Path(work)
    by_file = _images_by_file(truth, root)
    if truth.kind == "saco":
        options.pop("batch_size", None)  # one image at a time: its phrases are batched
        results = predict_phrases(truth, root, out, **options)
    else:
        results = _label_coco(truth, root, out, by_file, options)
    (out / "predictions.json").write_text(json.dumps(results), encoding="utf-8")
    return map_predictions(results, truth)


def _label_coco(
    truth: GroundTruth, root: Path, out: Path, by_file: dict[str, int], options: dict[str, Any]
) -> list[dict[str, Any]]:
    """COCO results (ids of the ground-truth file) from :func:`sam3lib.label`."""
    from sam3lib.labelling import label  # the model and its pipeline only when asked for

    phrases = truth.phrases
    category_of_phrase: dict[str, int] = {}
    for query in truth.queries:
        category_of_phrase.setdefault(query.phrase, query.category_id)
    if len(category_of_phrase) != len(truth.categories):
        raise InputError("prompts: two categories map to the same phrase; give each its own")
    label([root / name for name in by_file], phrases, out, format="coco", **options)
    dataset = json.loads((out / "annotations.json").read_text(encoding="utf-8"))
    image_of = {
        image["id"]: by_file[Path(image["file_name"]).relative_to(root).as_posix()]
        for image in dataset["images"]
    }
    return [
        {
            "image_id": image_of[annotation["image_id"]],
            "category_id": category_of_phrase[phrases[annotation["category_id"] - 1]],
            "score": annotation["score"],
            "bbox": annotation["bbox"],
            "segmentation": annotation["segmentation"],
        }
        for annotation in dataset["annotations"]
    ]


def _images_by_file(truth: GroundTruth, root: Path) -> dict[str, int]:
    """Ground-truth image id per file name, each file checked to exist."""
    by_file: dict[str, int] = {}
    for query in truth.queries:
        # SA-Co entries of one image share its file; COCO images must not.
        if (
            by_file.setdefault(query.file_name, query.image_id) != query.image_id
            and truth.kind == "coco"
        ):
            raise InputError(f"ground_truth: two images share the file name '{query.file_name}'")
    missing = [name for name in by_file if not (root / name).is_file()]
    if missing:
        raise InputError(
            f"images: {len(missing)} ground-truth image(s) not found under '{root}', e.g. "
            f"'{missing[0]}'"
        )
    return by_file
