"""``sam3lib.evaluate``: ground truth and predictions (a file, or the model run over the
images) in, an :class:`~sam3lib.evaluation.report.EvaluationReport` out."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from sam3lib.errors import BackendUnavailableError, InputError
from sam3lib.evaluation.cgf1 import evaluate_cgf1
from sam3lib.evaluation.coco_ap import coco_scores
from sam3lib.evaluation.ground_truth import GroundTruth, load_ground_truth
from sam3lib.evaluation.miou import mean_iou
from sam3lib.evaluation.predictions import load_predictions, predict_with_model
from sam3lib.evaluation.report import EvaluationReport

__all__ = ["evaluate"]

PathLike = str | os.PathLike[str]


def evaluate(
    ground_truth: PathLike | Sequence[PathLike],
    *,
    predictions: PathLike | None = None,
    images: PathLike | None = None,
    work: PathLike = "sam3lib-eval",
    prompts: Mapping[str, str] | None = None,
    score_threshold: float = 0.5,
    **label_options: Any,
) -> EvaluationReport:
    """Evaluate predictions against labels: COCO mask and box AP, mIoU and cgF1.

    Args:
        ground_truth: a COCO instances file, or SA-Co file(s) (several: the oracle setting).
        predictions: a COCO results JSON; without it the model runs over ``images`` (see
            :func:`sam3lib.evaluation.predictions.predict_with_model`).
        images: the directory the ground truth's file names are relative to (model runs).
        work: where the model run keeps its labelling state and ``predictions.json``
            (resumable: run the same call again after an interruption).
        prompts: COCO: category name → phrase to prompt with (default: the names).
        score_threshold: a prediction counts for mIoU and cgF1 from this score (cgF1 is
            defined at 0.5); AP uses every prediction, ranked by score.
        **label_options: for the model run, as :func:`sam3lib.label` takes them (``model``,
            ``backend``, ``precision``, ``device``, ``resolution``, ``threshold`` (default
            0.05 here, so that AP sees the low-scoring tail), ``batch_size``...).

    Raises:
        InputError: unreadable or inconsistent ground truth or predictions, or neither
            ``predictions`` nor ``images``.
        BackendUnavailableError: pycocotools or scipy missing (the ``eval`` extra).

    Example:
        >>> report = evaluate("instances_val.json", predictions="results.json")  # doctest: +SKIP
        >>> report.mask_ap, report.cgf1  # doctest: +SKIP
        (0.412, 0.356)
    """
    _require_packages()
    paths = [ground_truth] if isinstance(ground_truth, (str, os.PathLike)) else list(ground_truth)
    truth = load_ground_truth(paths, prompts)
    if predictions is not None:
        if label_options:
            raise InputError(
                f"predictions: given a predictions file, the model does not run; drop "
                f"{', '.join(sorted(label_options))}"
            )
        found = load_predictions(predictions, truth)
        origin: dict[str, Any] = {"source": "file", "path": os.fspath(predictions)}
    elif images is not None:
        label_options.setdefault("threshold", 0.05)
        found = predict_with_model(truth, images, work, **label_options)
        origin = {"source": "model", "work": os.fspath(work), **_plain(label_options)}
    else:
        raise InputError("give predictions (a COCO results file) or images to run the model on")
    return score(truth, found, score_threshold=score_threshold, origin=origin)


def score(
    truth: GroundTruth,
    predictions: Sequence[dict[str, Any]],
    *,
    score_threshold: float = 0.5,
    origin: Mapping[str, Any] | None = None,
) -> EvaluationReport:
    """Every metric of ``predictions`` (mapped onto ``truth``'s queries)."""
    evaluated = evaluated_queries(truth)
    dataset = truth.datasets[0]
    with_masks = all("segmentation" in prediction for prediction in predictions)
    with_boxes = all("bbox" in prediction for prediction in predictions)
    coco = {}
    curves = {}
    for iou_type, available in (("segm", with_masks), ("bbox", with_boxes)):
        if available:
            scores = coco_scores(dataset, predictions, iou_type, evaluated)  # type: ignore[arg-type]
            coco[iou_type] = scores.stats
            curves[f"precision_{iou_type}"] = scores.precision
    miou = None
    details: dict[str, Any] = {
        "ground_truth": {
            "kind": truth.kind,
            "files": list(truth.sources),
            "queries": len(truth.queries),
            "evaluated_queries": len(evaluated),
            "phrases": len(truth.phrases),
        },
        "predictions": {**(origin or {}), "count": len(predictions)},
        "score_threshold": score_threshold,
        "coco": coco,
    }
    if with_masks:
        found = mean_iou(dataset, predictions, evaluated, score_threshold)
        miou = found.miou
        curves["query_ious"] = np.array(list(found.ious.values()), dtype=np.float64)
        details["miou_per_phrase"] = found.per_phrase
        details["miou_scored_queries"] = len(found.ious)
        details["miou_skipped_empty"] = found.skipped_empty
    cgf1 = evaluate_cgf1(
        truth.datasets,
        predictions,
        iou_type="segm" if with_masks else "bbox",
        score_threshold=score_threshold,
    )
    details["cgf1_iou_type"] = "segm" if with_masks else "bbox"
    details["cgf1_metrics"] = dict(cgf1.metrics)
    return EvaluationReport(
        mask_ap=coco["segm"]["AP"] if "segm" in coco else None,
        box_ap=coco["bbox"]["AP"] if "bbox" in coco else None,
        miou=miou,
        cgf1=cgf1.cgf1,
        details=details,
        curves=curves,
    )


def evaluated_queries(truth: GroundTruth) -> list[int]:
    """The queries scored: exhaustively annotated in the first file and in every other (as
    SA-Co's evaluator does for its oracle setting)."""
    excluded = {
        image["id"]
        for dataset in truth.datasets[1:]
        for image in dataset["images"]
        if not image.get("is_instance_exhaustive", True)
    }
    return [query.id for query in truth.queries if query.exhaustive and query.id not in excluded]


def _require_packages() -> None:
    missing = []
    for module in ("pycocotools", "scipy"):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise BackendUnavailableError(
            f"evaluation needs {' and '.join(missing)}: pip install 'sam3lib[eval]'"
        )


def _plain(options: Mapping[str, Any]) -> dict[str, Any]:
    """Options as JSON-ready values (paths as strings)."""
    return {
        key: os.fspath(value) if isinstance(value, os.PathLike) else value
        for key, value in options.items()
    }
