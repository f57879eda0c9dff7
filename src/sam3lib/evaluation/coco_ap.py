"""COCO average precision and recall, by pycocotools' own COCOeval (the numbers people quote).

Run on the query layout (:mod:`.ground_truth`): for COCO ground truth each query is one image
× one category, which is how COCOeval scores them anyway, so the twelve numbers are those of
the original file; for SA-Co every (image, phrase) entry counts as an image of one class.
"""

from __future__ import annotations

import contextlib
import copy
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

__all__ = ["STAT_NAMES", "CocoScores", "coco_scores"]

#: pycocotools' ``COCOeval.stats``, in order.
STAT_NAMES = (
    "AP",
    "AP50",
    "AP75",
    "AP_small",
    "AP_medium",
    "AP_large",
    "AR1",
    "AR10",
    "AR100",
    "AR_small",
    "AR_medium",
    "AR_large",
)


@dataclass(frozen=True)
class CocoScores:
    """COCOeval's summary of one IoU type.

    Attributes:
        stats: the twelve numbers of ``COCOeval.summarize`` by name (``STAT_NAMES``); -1 where
            pycocotools finds nothing to score (no ground truth in an area range).
        precision: (T, R, K) precision at T IoU thresholds (0.5:0.05:0.95), R = 101 recall
            points and K categories, all areas, 100 detections; -1 where undefined. For
            precision-recall curves.
    """

    stats: dict[str, float]
    precision: npt.NDArray[np.float64]

    @property
    def ap(self) -> float:
        """AP at IoU 0.5:0.95, as a fraction."""
        return self.stats["AP"]


def coco_scores(
    dataset: dict[str, Any],
    predictions: Sequence[dict[str, Any]],
    iou_type: Literal["segm", "bbox"],
    query_ids: Sequence[int] | None = None,
) -> CocoScores:
    """pycocotools' COCOeval of ``predictions`` against ``dataset`` (COCO dicts).

    Args:
        dataset: ground truth in the query layout.
        predictions: COCO results whose ``image_id`` is a query.
        iou_type: ``"segm"`` (masks) or ``"bbox"``.
        query_ids: the queries to score (default: all).
    """
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    quiet = contextlib.redirect_stdout(io.StringIO())  # pycocotools prints as it goes
    with quiet:
        truth = COCO()
        truth.dataset = copy.deepcopy(dataset)
        truth.createIndex()
        if predictions:
            found = truth.loadRes(copy.deepcopy(list(predictions)))  # it edits what it loads
        else:  # loadRes refuses an empty list; nothing found scores zero, as it should
            found = COCO()
            found.dataset = {"images": dataset["images"], "annotations": []}
            found.dataset["categories"] = dataset.get("categories", [])
            found.createIndex()
        evaluation = COCOeval(truth, found, iou_type)
        if query_ids is not None:
            evaluation.params.imgIds = list(query_ids)
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    stats = {name: float(value) for name, value in zip(STAT_NAMES, evaluation.stats, strict=True)}
    # precision[T, R, K, area, maxDets]: all areas (0), 100 detections (last).
    precision = np.asarray(evaluation.eval["precision"][:, :, :, 0, -1], dtype=np.float64)
    return CocoScores(stats=stats, precision=precision)
