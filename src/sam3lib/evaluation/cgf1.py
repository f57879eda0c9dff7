"""cgF1, the metric SAM 3 reports on SA-Co, equal to Meta's evaluator (``sam3.eval.cgf1_eval``).

SAM 3 is asked one noun phrase per image, so each SA-Co "image" entry is a *query* (an image
and a phrase) that may have no instance at all. cgF1 ("classification-gated F1", SAM 3 paper)
scores both halves of the task: whether the model says the phrase is present
(image-level Matthews correlation, IL_MCC) and how well it localises what is there (micro-F1
over the queries that have ground truth, with one-to-one matching). cgF1 = positive_micro_F1
× IL_MCC at each IoU threshold 0.50, 0.55, …, 0.95, averaged over the ten.

How the numbers are defined, per IoU threshold ``t`` (exactly as Meta computes them):

- Only queries marked ``is_instance_exhaustive`` in every ground-truth file are evaluated.
  Detections scoring ``>= score_threshold`` (0.5) count; crowd ground truths are dropped.
- Per query, detections (rows, in their given order) are matched to ground truths by the
  Hungarian algorithm (``scipy.optimize.linear_sum_assignment`` on -IoU); a match with
  IoU ``>= t`` is a TP, other detections are FPs, other ground truths FNs.
- Image level: a query with ground truth and detections is an IL_TP, with ground truth and
  none an IL_FN, without ground truth but with detections an IL_FP, with neither an IL_TN.
- ``precision``, ``recall``, ``F1``: TP / (TP + FP + 1e-4), TP / (TP + FN + 1e-4) and
  2PR / (P + R + 1e-4), over all queries. ``positive_micro_precision`` and
  ``positive_micro_F1`` count only the FPs of queries with ground truth.
  ``positive_macro_F1``: the mean of the per-query F1 over queries with ground truth and
  detections.
- ``IL_precision``, ``IL_recall``, ``IL_F1``, ``IL_FPR`` and ``IL_MCC`` from the four image
  counts, with 1e-6 in each denominator.
- Oracle setting (several ground-truth files): each query is scored against the file it
  agrees with best (the highest mean per-query F1 over thresholds; a file under which the
  query is an IL_TN wins outright).

The reported numbers average the per-threshold values greater than -1 (pycocotools'
convention, which also drops NaN); ``@0.5`` / ``@0.75`` are single thresholds. When no query
has both ground truth and detections, positive_macro_F1 is NaN at every threshold and Meta
reports -1 for it, as :class:`CgF1Result` does; its per-threshold lists keep the NaN.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeGuard

import numpy as np
import numpy.typing as npt

from sam3lib.errors import BackendUnavailableError, InputError

__all__ = ["IOU_THRESHOLDS", "CgF1Result", "evaluate_cgf1"]

IouType = Literal["segm", "bbox"]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: The IoU thresholds, built as pycocotools builds them so that ``>=`` compares the same doubles.
IOU_THRESHOLDS: tuple[float, ...] = tuple(np.linspace(0.5, 0.95, 10).tolist())
_SINGLE_THRESHOLDS = (0.5, 0.75)
_BOX_EPS = 1e-4  # Meta's epsilon in the box-level precision, recall and F1
_IMAGE_EPS = 1e-6  # and in the image-level ones
_BOX_METRICS = (
    "cgF1",
    "precision",
    "recall",
    "F1",
    "positive_macro_F1",
    "positive_micro_F1",
    "positive_micro_precision",
)
_IMAGE_METRICS = ("IL_precision", "IL_recall", "IL_F1", "IL_FPR", "IL_MCC")
_INSTALL_HINT = "cgF1 needs pycocotools and scipy: pip install pycocotools scipy"


@dataclass(frozen=True)
class CgF1Result:
    """cgF1 and the numbers it is made of.

    Attributes:
        cgf1: cgF1 averaged over IoU 0.50:0.95 (``metrics["cgF1"]``).
        metrics: every number Meta's ``CGF1Evaluator.evaluate`` returns, under its names
            without the ``cgF1_eval_{iou_type}_`` prefix: ``"cgF1"``, ``"IL_MCC"``,
            ``"positive_micro_F1@0.75"``, … (-1 where no threshold has a defined value).
        evaluated_queries: image entries evaluated (the exhaustively annotated ones).
        iou_type: ``"segm"`` or ``"bbox"``.
        score_threshold: detections scoring at least this counted.
        iou_thresholds: the 10 IoU thresholds.
        per_threshold: each box-level metric (``"cgF1"``, ``"F1"``, …) at each threshold
            (NaN where undefined).
        true_positives, false_positives, false_negatives: totals per threshold.
        positive_false_positives: FPs of queries with ground truth, per threshold.
        image_true_positives, image_false_positives, image_true_negatives,
            image_false_negatives: the image-level (query-level) counts; positive_macro_F1
            averages over the image_true_positives.
    """

    cgf1: float
    metrics: dict[str, float]
    evaluated_queries: int
    iou_type: IouType
    score_threshold: float
    iou_thresholds: tuple[float, ...]
    per_threshold: dict[str, list[float]]
    true_positives: list[int]
    false_positives: list[int]
    false_negatives: list[int]
    positive_false_positives: list[int]
    image_true_positives: int
    image_false_positives: int
    image_true_negatives: int
    image_false_negatives: int


@dataclass(frozen=True)
class _Query:
    """One image entry of a ground-truth file."""

    height: int | None
    width: int | None
    exhaustive: bool


@dataclass(frozen=True)
class _Truth:
    """One ground-truth file: its queries (in file order), the regions (RLE dicts or xywh
    boxes) of their non-crowd annotations, and its category ids (None: no categories)."""

    queries: dict[Any, _Query]
    regions: dict[Any, list[Any]]
    category_ids: frozenset[Any] | None

    def evaluates(self, category_id: Any) -> bool:
        """Whether a detection of ``category_id`` is evaluated against this file (pycocotools
        evaluates the file's categories only)."""
        return self.category_ids is None or category_id is None or category_id in self.category_ids


@dataclass(frozen=True)
class _Detection:
    category_id: Any
    region: Any


def evaluate_cgf1(
    ground_truths: Sequence[Mapping[str, Any]],
    predictions: Sequence[Mapping[str, Any]],
    *,
    iou_type: IouType = "segm",
    score_threshold: float = 0.5,
) -> CgF1Result:
    """cgF1 of COCO-format predictions against SA-Co ground truth (see the module docstring).

    Args:
        ground_truths: COCO dicts in the SA-Co layout: ``images`` (``id``, ``height``,
            ``width``, ``is_instance_exhaustive``, default True), ``annotations``
            (``image_id``, ``segmentation`` as RLE or polygons, ``bbox`` xywh, ``iscrowd``,
            default 0), optional ``categories`` (if given, annotations and predictions of
            other categories are left out, as pycocotools does). The first is the main one;
            more than one is the oracle setting.
        predictions: COCO results: ``image_id``, ``score``, ``segmentation`` (RLE, counts
            ``str`` or ``bytes``; needed for ``"segm"``) and/or ``bbox`` (xywh; for
            ``"bbox"``, taken from the mask when absent), optional ``category_id``.
            Predictions of entries that are not evaluated are ignored.
        iou_type: ``"segm"`` (mask IoU) or ``"bbox"`` (box IoU).
        score_threshold: detections scoring at least this count; Meta uses 0.5.

    Returns:
        :class:`CgF1Result`.

    Raises:
        InputError: malformed ground truth or predictions (the message names the entry), a
            prediction for an image the first ground truth lacks, or nothing to evaluate.
        BackendUnavailableError: pycocotools or scipy is not installed.

    Differences from Meta's evaluator, which crashes or misbehaves on such inputs: a
    prediction for an unknown image, a ``"segm"`` prediction with only a box (Meta rasterises
    the box), an RLE whose size is not its image's, duplicate image ids and an evaluated
    entry missing from another ground-truth file are errors here; ``categories``,
    ``category_id`` and annotation ids may be absent; with several ground truths, predictions
    need no boxes (Meta's loader then raises); the inputs are not modified.

    Example:
        >>> truth = {
        ...     "images": [{"id": 1}, {"id": 2}],  # image 2: the phrase names nothing there
        ...     "annotations": [{"image_id": 1, "bbox": [2, 2, 10, 10]}],
        ... }
        >>> found = [{"image_id": 1, "score": 0.9, "bbox": [2, 2, 10, 10]}]
        >>> result = evaluate_cgf1([truth], found, iou_type="bbox")
        >>> round(result.cgf1, 4), result.image_true_negatives
        (0.9998, 1)
    """
    mask_api, assign = _coco_tools()
    if iou_type not in ("segm", "bbox"):
        raise InputError(f"iou_type: expected 'segm' or 'bbox', got {iou_type!r}")
    if not _is_number(score_threshold):
        raise InputError(f"score_threshold: expected a number, got {score_threshold!r}")
    threshold = float(score_threshold)
    if isinstance(ground_truths, Mapping) or not isinstance(ground_truths, Sequence):
        raise InputError("ground_truths: expected a list of COCO dicts (one per annotator)")
    if not ground_truths:
        raise InputError("ground_truths: give at least one ground truth")
    truths = [
        _read_truth(truth, f"ground_truths[{index}]", iou_type, mask_api)
        for index, truth in enumerate(ground_truths)
    ]
    query_ids = _evaluated_query_ids(truths)
    detections = _read_predictions(
        predictions, truths[0], set(query_ids), iou_type, threshold, mask_api
    )
    truth_counts = np.empty(len(query_ids), dtype=np.int64)
    detection_counts = np.empty(len(query_ids), dtype=np.int64)
    true_positives = np.empty((len(query_ids), len(IOU_THRESHOLDS)), dtype=np.int64)
    for row, query_id in enumerate(query_ids):
        found = detections.get(query_id, [])
        outcomes = [
            _match(
                [d.region for d in found if truth.evaluates(d.category_id)],
                truth.regions.get(query_id, []),
                iou_type,
                mask_api,
                assign,
            )
            for truth in truths
        ]
        truth_counts[row], detection_counts[row], true_positives[row] = _best(outcomes)
    return _summarise(truth_counts, detection_counts, true_positives, iou_type, threshold)


def _coco_tools() -> tuple[Any, Any]:
    """pycocotools' mask API and scipy's Hungarian solver, imported when first needed."""
    try:
        from pycocotools import mask as mask_api
        from scipy.optimize import linear_sum_assignment
    except ModuleNotFoundError as error:
        raise BackendUnavailableError(f"{_INSTALL_HINT} ({error})") from error
    return mask_api, linear_sum_assignment


def _match(
    detections: list[Any], truths: list[Any], iou_type: IouType, mask_api: Any, assign: Any
) -> tuple[int, int, IntArray]:
    """(ground truths, detections, TPs per IoU threshold) of one query against one file."""
    true_positives = np.zeros(len(IOU_THRESHOLDS), dtype=np.int64)
    if detections and truths:
        if iou_type == "bbox":
            ious = mask_api.iou(
                np.asarray(detections, dtype=np.float64),
                np.asarray(truths, dtype=np.float64),
                [0] * len(truths),
            )
        else:
            ious = mask_api.iou(detections, truths, [0] * len(truths))
        ious = np.asarray(ious, dtype=np.float64)
        rows, columns = assign(-ious)
        matched = ious[rows, columns]
        thresholds = np.asarray(IOU_THRESHOLDS)
        true_positives = (matched[None, :] >= thresholds[:, None]).sum(axis=1).astype(np.int64)
    return len(truths), len(detections), true_positives


def _best(outcomes: list[tuple[int, int, IntArray]]) -> tuple[int, int, IntArray]:
    """The oracle's choice among a query's outcomes against several files: a file under which
    the query is a true negative wins; else the highest mean F1 over thresholds, the first on
    ties."""
    for outcome in outcomes:
        if outcome[0] == 0 and outcome[1] == 0:
            return outcome
    mean_f1 = [np.mean(_query_f1(*outcome)) for outcome in outcomes]
    return outcomes[int(np.argmax(mean_f1))]  # argmax: the first of equals


def _query_f1(truths: int, detections: int, true_positives: IntArray) -> FloatArray:
    return _f1(
        *_precision_recall(true_positives, detections - true_positives, truths - true_positives)
    )


def _precision_recall(
    true_positives: IntArray, false_positives: IntArray, false_negatives: IntArray
) -> tuple[FloatArray, FloatArray]:
    precision = true_positives / (true_positives + false_positives + _BOX_EPS)
    recall = true_positives / (true_positives + false_negatives + _BOX_EPS)
    return precision, recall


def _f1(precision: FloatArray, recall: FloatArray) -> FloatArray:
    return 2 * precision * recall / (precision + recall + _BOX_EPS)


def _summarise(
    truth_counts: IntArray,
    detection_counts: IntArray,
    true_positives: IntArray,
    iou_type: IouType,
    score_threshold: float,
) -> CgF1Result:
    """Meta's accumulate and summarize over the chosen per-query outcomes (N queries, T
    thresholds: counts (N,), true_positives (N, T))."""
    false_positives = detection_counts[:, None] - true_positives
    false_negatives = truth_counts[:, None] - true_positives
    positive = truth_counts > 0
    detected = detection_counts > 0
    image_tp = int((positive & detected).sum())
    image_fn = int((positive & ~detected).sum())
    image_fp = int((~positive & detected).sum())
    image_tn = int((~positive & ~detected).sum())
    image = _image_metrics(image_tp, image_fp, image_tn, image_fn)

    # True-negative queries have no TP, FP or FN: summing over every query is Meta's sum.
    tp, fp = true_positives.sum(axis=0), false_positives.sum(axis=0)
    fn = false_negatives.sum(axis=0)
    positive_fp = false_positives[positive].sum(axis=0)
    # Queries with truth but no detection add an F1 of 0 but do not count (Meta's average).
    query_f1 = _f1(*_precision_recall(true_positives, false_positives, false_negatives))
    if image_tp:
        macro_f1 = query_f1[positive].sum(axis=0) / image_tp
    else:
        macro_f1 = np.full(len(IOU_THRESHOLDS), np.nan)

    precision, recall = _precision_recall(tp, fp, fn)
    positive_precision = tp / (tp + positive_fp + _BOX_EPS)
    positive_micro_f1 = _f1(positive_precision, recall)
    per_threshold: dict[str, FloatArray] = {
        "cgF1": positive_micro_f1 * image["IL_MCC"],
        "precision": precision,
        "recall": recall,
        "F1": _f1(precision, recall),
        "positive_macro_F1": macro_f1,
        "positive_micro_F1": positive_micro_f1,
        "positive_micro_precision": positive_precision,
    }

    metrics = {name: _mean_defined(per_threshold[name]) for name in _BOX_METRICS}
    metrics.update(image)
    for threshold in _SINGLE_THRESHOLDS:
        index = IOU_THRESHOLDS.index(threshold)
        for name in _BOX_METRICS:
            metrics[f"{name}@{threshold}"] = _mean_defined(per_threshold[name][index : index + 1])
    return CgF1Result(
        cgf1=metrics["cgF1"],
        metrics=metrics,
        evaluated_queries=len(truth_counts),
        iou_type=iou_type,
        score_threshold=score_threshold,
        iou_thresholds=IOU_THRESHOLDS,
        per_threshold={name: values.tolist() for name, values in per_threshold.items()},
        true_positives=tp.tolist(),
        false_positives=fp.tolist(),
        false_negatives=fn.tolist(),
        positive_false_positives=positive_fp.tolist(),
        image_true_positives=image_tp,
        image_false_positives=image_fp,
        image_true_negatives=image_tn,
        image_false_negatives=image_fn,
    )


def _image_metrics(tp: int, fp: int, tn: int, fn: int) -> dict[str, float]:
    """The image-level metrics, computed in the order Meta computes them (same rounding)."""
    recall = tp / (tp + fn + _IMAGE_EPS)
    precision = tp / (tp + fp + _IMAGE_EPS)
    spread = float(tp + fp) * float(tp + fn) * float(tn + fp) * float(tn + fn)
    return {
        "IL_precision": precision,
        "IL_recall": recall,
        "IL_F1": 2 * precision * recall / (precision + recall + _IMAGE_EPS),
        "IL_FPR": fp / (fp + tn + _IMAGE_EPS),
        "IL_MCC": float(tp * tn - fp * fn) / (spread**0.5 + _IMAGE_EPS),
    }


def _mean_defined(values: FloatArray) -> float:
    """The mean of the values above -1 (NaN excluded), or -1 if there are none: pycocotools'
    summary convention, which Meta's evaluator keeps."""
    defined = values[values > -1]
    return float(np.mean(defined)) if defined.size else -1.0


# Reading the inputs.


def _evaluated_query_ids(truths: list[_Truth]) -> list[Any]:
    """The first file's exhaustively annotated queries, less those another file marks as not
    exhaustive, in the first file's order."""
    excluded = {
        query_id
        for truth in truths[1:]
        for query_id, query in truth.queries.items()
        if not query.exhaustive
    }
    query_ids = [
        query_id
        for query_id, query in truths[0].queries.items()
        if query.exhaustive and query_id not in excluded
    ]
    if not query_ids:
        raise InputError(
            "ground_truths: no image entry to evaluate (none is marked is_instance_exhaustive "
            "in every file)"
        )
    for index, truth in enumerate(truths[1:], start=1):
        missing = [query_id for query_id in query_ids if query_id not in truth.queries]
        if missing:
            raise InputError(
                f"ground_truths[{index}]: lacks image {missing[0]!r} of ground_truths[0] "
                f"({len(missing)} missing); the oracle's files annotate the same entries"
            )
    return query_ids


def _read_truth(truth: Any, where: str, iou_type: IouType, mask_api: Any) -> _Truth:
    if not isinstance(truth, Mapping) or not isinstance(truth.get("images"), list):
        raise InputError(f"{where}: expected a COCO dict with an 'images' list")
    queries: dict[Any, _Query] = {}
    for index, image in enumerate(truth["images"]):
        image_where = f"{where}['images'][{index}]"
        if not isinstance(image, Mapping):
            raise InputError(f"{image_where}: expected an object, got {type(image).__name__}")
        image_id = _identifier(image.get("id"), f"{image_where}['id']")
        if image_id in queries:
            raise InputError(f"{image_where}: duplicate image id {image_id!r}")
        height, width = (_size(image, name, image_where) for name in ("height", "width"))
        if iou_type == "segm" and (height is None or width is None):
            raise InputError(f"{image_where}: mask IoU needs the image's 'height' and 'width'")
        exhaustive = image.get("is_instance_exhaustive", True)
        if not isinstance(exhaustive, (bool, int)):
            raise InputError(f"{image_where}['is_instance_exhaustive']: expected a boolean")
        queries[image_id] = _Query(height, width, bool(exhaustive))

    category_ids = None
    if truth.get("categories") is not None:
        categories = truth["categories"]
        if not isinstance(categories, list) or not all(
            isinstance(category, Mapping) and "id" in category for category in categories
        ):
            raise InputError(f"{where}['categories']: expected a list of objects with an 'id'")
        category_ids = frozenset(
            _identifier(category["id"], f"{where}['categories'][{index}]['id']")
            for index, category in enumerate(categories)
        )

    annotations = truth.get("annotations", [])
    if not isinstance(annotations, list):
        raise InputError(f"{where}['annotations']: expected a list")
    regions: dict[Any, list[Any]] = {}
    for index, annotation in enumerate(annotations):
        annotation_where = f"{where}['annotations'][{index}]"
        if not isinstance(annotation, Mapping):
            raise InputError(f"{annotation_where}: expected an object")
        image_id = _image_id(annotation, queries, annotation_where, "the images")
        crowd = annotation.get("iscrowd", 0)
        if not isinstance(crowd, (bool, int)):
            raise InputError(f"{annotation_where}['iscrowd']: expected 0 or 1, got {crowd!r}")
        category = _category_id(annotation, annotation_where)
        if crowd or (
            category_ids is not None and category is not None and category not in category_ids
        ):
            continue  # crowd regions are not evaluated, nor categories the file does not list
        query = queries[image_id]
        regions.setdefault(image_id, []).append(
            _region(annotation, query, iou_type, annotation_where, mask_api, box_from_mask=False)
        )
    return _Truth(queries, regions, category_ids)


def _read_predictions(
    predictions: Any,
    truth: _Truth,
    evaluated: set[Any],
    iou_type: IouType,
    score_threshold: float,
    mask_api: Any,
) -> dict[Any, list[_Detection]]:
    """The predictions scoring at least ``score_threshold`` per evaluated query, in order."""
    if isinstance(predictions, (Mapping, str, bytes)) or not isinstance(predictions, Sequence):
        raise InputError("predictions: expected a list of COCO results")
    detections: dict[Any, list[_Detection]] = {}
    for index, prediction in enumerate(predictions):
        where = f"predictions[{index}]"
        if not isinstance(prediction, Mapping):
            raise InputError(f"{where}: expected an object, got {type(prediction).__name__}")
        image_id = _image_id(prediction, truth.queries, where, "the (first) ground truth's images")
        given_score = prediction.get("score")
        if not _is_number(given_score):
            raise InputError(f"{where}: expected a numeric 'score', got {given_score!r}")
        score = float(given_score)
        category = _category_id(prediction, where)
        # Checked even where not counted: a malformed result is an error whatever its score.
        region = _region(
            prediction, truth.queries[image_id], iou_type, where, mask_api, box_from_mask=True
        )
        if image_id in evaluated and score >= score_threshold:
            detections.setdefault(image_id, []).append(_Detection(category, region))
    return detections


def _region(
    item: Mapping[str, Any],
    query: _Query,
    iou_type: IouType,
    where: str,
    mask_api: Any,
    *,
    box_from_mask: bool,
) -> Any:
    """The RLE (``"segm"``) or xywh box (``"bbox"``) that ``item`` is compared by. A
    prediction without a box is given its mask's bounding box, as pycocotools does."""
    if iou_type == "bbox" and (item.get("bbox") is not None or not box_from_mask):
        return _box(item.get("bbox"), f"{where}['bbox']")
    if item.get("segmentation") is None:
        wanted = "'segmentation' (mask IoU)" if iou_type == "segm" else "'bbox' or 'segmentation'"
        raise InputError(f"{where}: no {wanted}")
    rle = _rle(item["segmentation"], query, f"{where}['segmentation']", mask_api)
    if iou_type == "segm":
        return rle
    return [float(value) for value in mask_api.toBbox(rle)]


def _rle(segmentation: Any, query: _Query, where: str, mask_api: Any) -> dict[str, Any]:
    """A compressed RLE of ``segmentation`` (polygons, uncompressed or compressed RLE),
    converted exactly as pycocotools' ``annToRLE`` does."""
    height, width = query.height, query.width
    if isinstance(segmentation, list):
        if not segmentation or not all(
            isinstance(part, list) and part and all(_is_number(value) for value in part)
            for part in segmentation
        ):
            raise InputError(f"{where}: expected polygons (lists of x, y numbers) or an RLE")
        try:
            return dict(mask_api.merge(mask_api.frPyObjects(segmentation, height, width)))
        except Exception as error:  # pycocotools raises bare Exceptions
            raise InputError(f"{where}: pycocotools cannot read these polygons ({error})") from None
    if not isinstance(segmentation, Mapping) or "counts" not in segmentation:
        raise InputError(f"{where}: expected an RLE ({{'size', 'counts'}}) or polygons")
    size = segmentation.get("size")
    if not isinstance(size, (list, tuple)) or [*size] != [height, width]:
        raise InputError(f"{where}: RLE size {size!r} is not the image's [{height}, {width}]")
    counts = segmentation["counts"]
    if isinstance(counts, list):
        if not all(isinstance(value, int) and value >= 0 for value in counts):
            raise InputError(f"{where}: uncompressed RLE counts must be non-negative integers")
        return dict(
            mask_api.frPyObjects({"size": [height, width], "counts": counts}, height, width)
        )
    if not isinstance(counts, (str, bytes)):
        raise InputError(f"{where}: RLE counts must be a string, bytes or a list of integers")
    return {"size": [height, width], "counts": counts}


def _box(box: Any, where: str) -> list[float]:
    if (
        not isinstance(box, (list, tuple, np.ndarray))
        or len(box) != 4
        or not all(_is_number(value) and math.isfinite(value) for value in box)
    ):
        raise InputError(f"{where}: expected [x, y, width, height], got {box!r:.60}")
    return [float(value) for value in box]


def _size(image: Mapping[str, Any], name: str, where: str) -> int | None:
    value = image.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise InputError(f"{where}['{name}']: expected a positive integer, got {value!r}")
    return value


def _image_id(item: Mapping[str, Any], queries: Mapping[Any, _Query], where: str, of: str) -> Any:
    image_id = _identifier(item.get("image_id"), f"{where}['image_id']")
    if image_id not in queries:
        raise InputError(f"{where}: image_id {image_id!r} is not among {of}")
    return image_id


def _category_id(item: Mapping[str, Any], where: str) -> Any:
    """The item's category id, None when it has none."""
    value = item.get("category_id")
    return None if value is None else _identifier(value, f"{where}['category_id']")


def _identifier(value: Any, where: str) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise InputError(f"{where}: expected an integer or string id, got {value!r}")
    return value


def _is_number(value: object) -> TypeGuard[numbers.Real]:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)
