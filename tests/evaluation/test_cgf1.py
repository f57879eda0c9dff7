"""evaluate_cgf1: known answers worked out by hand, equality with Meta's evaluator
(``sam3/eval/cgf1_eval.py`` of the sam3 0.1.4 wheel, loaded by path) on seeded random SA-Co
datasets, and typed errors for malformed input."""

from __future__ import annotations

import ast
import contextlib
import copy
import importlib.util
import io
import json
import math
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pycocotools.mask as coco_mask
import pytest

import sam3lib
from helpers.meta_sam3 import meta_sam3_root
from sam3lib.errors import InputError
from sam3lib.evaluation import CgF1Result, evaluate_cgf1
from sam3lib.evaluation.cgf1 import IOU_THRESHOLDS

Dataset = dict[str, Any]
Shape = tuple[str, int, int, int, int]  # kind, top, left, bottom, right (exclusive), pixels
CATEGORY = {"id": 1, "name": "object"}


# Hand-built masks.


def rect_mask(size: tuple[int, int], top: int, left: int, height: int, width: int) -> np.ndarray:
    mask = np.zeros(size, dtype=bool)
    mask[top : top + height, left : left + width] = True
    return mask


def rle(mask: np.ndarray, *, as_bytes: bool = False) -> dict[str, Any]:
    encoded = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
    counts = encoded["counts"] if as_bytes else encoded["counts"].decode()
    return {"size": [int(side) for side in encoded["size"]], "counts": counts}


def rect_region(size: tuple[int, int], top: int, left: int, height: int, width: int) -> Dataset:
    """A rectangle as both a mask and its xywh box (the IoUs of the two agree)."""
    return {
        "segmentation": rle(rect_mask(size, top, left, height, width)),
        "bbox": [left, top, width, height],
    }


def dataset(size: tuple[int, int], instances: dict[int, list[Dataset]]) -> Dataset:
    """One ground truth: an image entry per key, its annotations the given regions."""
    images = [
        {"id": image_id, "height": size[0], "width": size[1], "is_instance_exhaustive": True}
        for image_id in instances
    ]
    annotations = [
        {"id": number, "image_id": image_id, "category_id": 1, "iscrowd": 0, **region}
        for number, (image_id, region) in enumerate(
            ((image_id, region) for image_id, regions in instances.items() for region in regions),
            start=1,
        )
    ]
    return {"images": images, "annotations": annotations, "categories": [CATEGORY]}


def prediction(image_id: int, score: float, region: Dataset) -> Dataset:
    return {"image_id": image_id, "category_id": 1, "score": score, **region}


def box_f1(tp: int, fp: int, fn: int) -> float:
    """Meta's F1 with its 1e-4 epsilons."""
    precision = tp / (tp + fp + 1e-4)
    recall = tp / (tp + fn + 1e-4)
    return 2 * precision * recall / (precision + recall + 1e-4)


# 1. Known answers.


def test_perfect_predictions_score_one_up_to_the_epsilons() -> None:
    # Image 1 has one instance, image 2 two, image 3 none; each instance is predicted exactly
    # and image 3 gets nothing. At every threshold TP = 3, FP = FN = 0, so precision = recall
    # = 3 / 3.0001 and F1 = 2PR / (P + R + 1e-4); image level TP = 2, TN = 1, so
    # IL_MCC = (2·1 − 0) / (sqrt(2·2·1·1) + 1e-6) = 2 / 2.000001. cgF1 = F1 · IL_MCC
    # = 0.99984..., 1 − 1.5e-4: the epsilons, not a mistake.
    size = (40, 40)
    regions = [rect_region(size, 2, 2, 10, 10), rect_region(size, 20, 20, 8, 12)]
    truth = dataset(size, {1: regions[:1], 2: regions, 3: []})
    found = [prediction(1, 0.9, regions[0])] + [prediction(2, 0.8, r) for r in regions]
    precision = 3 / (3 + 1e-4)
    f1 = 2 * precision * precision / (2 * precision + 1e-4)
    il_mcc = 2 / (2 + 1e-6)

    for iou_type in ("segm", "bbox"):
        result = evaluate_cgf1([truth], found, iou_type=iou_type)  # type: ignore[arg-type]
        assert result.true_positives == [3] * 10
        assert result.false_positives == result.false_negatives == [0] * 10
        assert (result.image_true_positives, result.image_true_negatives) == (2, 1)
        assert result.metrics["IL_MCC"] == pytest.approx(il_mcc, rel=1e-12)
        assert result.metrics["positive_micro_F1"] == pytest.approx(f1, rel=1e-12)
        assert result.cgf1 == pytest.approx(f1 * il_mcc, rel=1e-12)
        assert result.cgf1 == pytest.approx(1.0, abs=2e-4)
        assert result.evaluated_queries == 3


@pytest.mark.parametrize("iou_type", ["segm", "bbox"])
def test_two_truths_three_predictions_known_matches(iou_type: str) -> None:
    # Image 1 (100 x 100): truths A = 10x10 at (0, 0) and B = 10x10 at (50, 50).
    # Predictions: 9x8 inside A (IoU 72/100 = 0.72), 8x7 inside B (IoU 56/100 = 0.56) and
    # one far from both (IoU 0). The Hungarian matching pairs them as such, so a match counts
    # at thresholds 0.50-0.70 for A and 0.50-0.55 for B:
    #   threshold 0.50 0.55 0.60 0.65 0.70 0.75 ... 0.95
    #   TP          2    2    1    1    1    0  ...    0
    #   FP = 3 − TP, FN = 2 − TP
    #   F1        0.8  0.8  0.4  0.4  0.4    0  ...    0   (2/3, 1 → 0.8; 1/3, 1/2 → 0.4)
    # Image 2 has no truth and no prediction (IL_TN), so IL_MCC = 1/(1 + 1e-6) and
    # cgF1 ≈ mean F1 = (2·0.8 + 3·0.4) / 10 = 0.28.
    size = (100, 100)
    truth = dataset(
        size, {1: [rect_region(size, 0, 0, 10, 10), rect_region(size, 50, 50, 10, 10)], 2: []}
    )
    found = [
        prediction(1, 0.9, rect_region(size, 0, 0, 9, 8)),
        prediction(1, 0.8, rect_region(size, 50, 50, 8, 7)),
        prediction(1, 0.7, rect_region(size, 80, 80, 10, 10)),
    ]
    result = evaluate_cgf1([truth], found, iou_type=iou_type)  # type: ignore[arg-type]

    tps = [2, 2, 1, 1, 1, 0, 0, 0, 0, 0]
    assert result.true_positives == tps
    assert result.false_positives == [3 - tp for tp in tps]
    assert result.false_negatives == [2 - tp for tp in tps]
    expected_f1 = [box_f1(tp, 3 - tp, 2 - tp) for tp in tps]
    assert result.per_threshold["positive_micro_F1"] == pytest.approx(expected_f1, rel=1e-12)
    assert result.per_threshold["positive_macro_F1"] == pytest.approx(expected_f1, rel=1e-12)
    assert expected_f1[0] == pytest.approx(0.8, abs=1e-3)
    assert expected_f1[2] == pytest.approx(0.4, abs=1e-3)
    assert result.metrics["F1@0.5"] == pytest.approx(0.8, abs=1e-3)
    assert result.metrics["F1@0.75"] == 0.0
    assert result.metrics["IL_MCC"] == pytest.approx(1.0, abs=1e-5)
    assert result.cgf1 == pytest.approx(0.28, abs=1e-3)
    assert result.cgf1 == pytest.approx(float(np.mean(expected_f1)) / (1 + 1e-6), rel=1e-12)


def test_negative_image_with_a_detection_is_an_image_level_false_positive() -> None:
    # Image 1: one truth, predicted exactly. Image 2: no truth, one confident detection
    # (IL_FP, 1 box FP). Image 3: no truth, nothing (IL_TN).
    #   precision = 1 / (1 + 1 + 1e-4) ≈ 0.5, but positive_micro_precision ignores
    #   image 2's FP: 1 / (1 + 1e-4) ≈ 1; F1 ≈ 2·0.5·1/1.5 = 2/3, positive_micro_F1 ≈ 1;
    #   IL_FPR = 1 / (1 + 1) = 0.5; IL_MCC = (1·1 − 1·0) / sqrt(2·1·2·1) = 0.5 → cgF1 ≈ 0.5.
    size = (30, 30)
    region = rect_region(size, 5, 5, 10, 10)
    truth = dataset(size, {1: [region], 2: [], 3: []})
    found = [prediction(1, 0.9, region), prediction(2, 0.95, rect_region(size, 1, 1, 5, 5))]
    result = evaluate_cgf1([truth], found)

    counts = (
        result.image_true_positives,
        result.image_false_positives,
        result.image_true_negatives,
        result.image_false_negatives,
    )
    assert counts == (1, 1, 1, 0)
    assert result.false_positives == [1] * 10
    assert result.positive_false_positives == [0] * 10
    assert result.metrics["precision"] == pytest.approx(0.5, abs=1e-4)
    assert result.metrics["positive_micro_precision"] == pytest.approx(1.0, abs=1e-4)
    assert result.metrics["F1"] == pytest.approx(2 / 3, abs=1e-4)
    assert result.metrics["IL_FPR"] == pytest.approx(0.5, abs=1e-5)
    assert result.metrics["IL_MCC"] == pytest.approx(1 / (2 + 1e-6), rel=1e-12)
    assert result.cgf1 == pytest.approx(0.5, abs=1e-4)


def test_only_negative_images_give_zero_and_macro_f1_minus_one() -> None:
    # No query has a truth: IL_TP = IL_FN = 0, so IL_MCC = 0 and cgF1 = 0. No query has both
    # truth and detections, so positive_macro_F1 is 0/0 = NaN at every threshold, which Meta's
    # summary (the mean of values > -1, else -1) reports as -1.
    size = (30, 30)
    truth = dataset(size, {1: [], 2: []})
    result = evaluate_cgf1([truth], [prediction(1, 0.9, rect_region(size, 1, 1, 5, 5))])
    assert (result.image_false_positives, result.image_true_negatives) == (1, 1)
    assert result.cgf1 == 0.0
    assert result.metrics["IL_MCC"] == 0.0
    assert result.metrics["positive_macro_F1"] == -1.0
    assert result.metrics["positive_macro_F1@0.5"] == -1.0
    assert all(math.isnan(value) for value in result.per_threshold["positive_macro_F1"])
    assert result.image_true_positives == 0


def test_predictions_below_the_score_threshold_are_ignored() -> None:
    size = (30, 30)
    region = rect_region(size, 5, 5, 10, 10)
    truth = dataset(size, {1: [region], 2: []})
    kept = [prediction(1, 0.9, region)]
    low = [prediction(2, 0.49, rect_region(size, 1, 1, 5, 5)), prediction(1, 0.3, region)]
    without, with_low = evaluate_cgf1([truth], kept), evaluate_cgf1([truth], kept + low)
    assert with_low.metrics == without.metrics
    assert with_low.image_false_positives == 0

    # A lower threshold lets image 2's detection in (an IL_FP), and the duplicate on image 1
    # becomes a box FP; a score equal to the threshold counts (>=).
    lowered = evaluate_cgf1([truth], kept + low, score_threshold=0.3)
    assert lowered.image_false_positives == 1
    assert lowered.false_positives == [2] * 10
    at_threshold = evaluate_cgf1([truth], [prediction(1, 0.5, region)])
    assert at_threshold.true_positives == [1] * 10


def test_oracle_scores_each_query_against_the_best_annotator() -> None:
    # Annotator A drew image 1's object on the left, annotator B on the right; the prediction
    # agrees with B, so the oracle counts a TP. Image 2: A drew an object, B none, and nothing
    # is predicted: under B it is a true negative, which wins.
    size = (30, 30)
    left, right = rect_region(size, 0, 0, 10, 10), rect_region(size, 0, 20, 10, 10)
    annotator_a = dataset(size, {1: [left], 2: [left]})
    annotator_b = dataset(size, {1: [right], 2: []})
    found = [prediction(1, 0.9, right)]

    alone = evaluate_cgf1([annotator_a], found)
    assert alone.true_positives == [0] * 10
    assert alone.image_false_negatives == 1
    oracle = evaluate_cgf1([annotator_a, annotator_b], found)
    assert oracle.true_positives == [1] * 10
    assert (oracle.image_true_positives, oracle.image_true_negatives) == (1, 1)
    assert oracle.image_false_negatives == 0


def test_missing_optional_fields_take_their_defaults() -> None:
    # is_instance_exhaustive → True, iscrowd → 0, no categories, ids or category_id: the same
    # numbers as with them spelt out.
    truths, found = random_case(3, entries=12)
    full = evaluate_cgf1(truths, found)
    bare_truth = copy.deepcopy(truths[0])
    bare_truth.pop("categories")
    for image in bare_truth["images"]:
        if image["is_instance_exhaustive"]:
            image.pop("is_instance_exhaustive")
    bare_truth["annotations"] = [
        {key: value for key, value in item.items() if key not in ("id", "iscrowd", "category_id")}
        for item in bare_truth["annotations"]
        if not item["iscrowd"] and item["category_id"] == 1
    ]
    bare_found = [
        {key: value for key, value in result.items() if key != "category_id"}
        for result in found
        if result["category_id"] == 1
    ]
    assert evaluate_cgf1([bare_truth], bare_found).metrics == full.metrics


def test_inputs_are_not_modified() -> None:
    truths, found = random_case(4, entries=10, annotators=2)
    before = copy.deepcopy((truths, found))
    evaluate_cgf1(truths, found)
    evaluate_cgf1(truths, found, iou_type="bbox")
    assert (truths, found) == before


# 2. Equality with Meta's evaluator on random datasets.


@pytest.fixture(scope="module")
def meta() -> ModuleType:
    path = meta_sam3_root() / "eval" / "cgf1_eval.py"
    # By path: sam3/__init__.py would import torchvision.
    module_spec = importlib.util.spec_from_file_location("meta_cgf1_eval", path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def as_json(value: Any) -> Any:
    """Bytes RLE counts as the str a JSON file holds."""
    if isinstance(value, dict):
        return {key: as_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_json(item) for item in value]
    return value.decode() if isinstance(value, bytes) else value


def meta_metrics(
    meta: ModuleType,
    folder: Path,
    truths: list[Dataset],
    found: list[Dataset],
    iou_type: str,
    score_threshold: float = 0.5,
) -> dict[str, float]:
    paths = []
    for index, truth in enumerate(truths):
        paths.append(folder / f"truth{index}.json")
        paths[-1].write_text(json.dumps(as_json(truth)))
    (folder / "predictions.json").write_text(json.dumps(as_json(found)))
    with (
        contextlib.redirect_stdout(io.StringIO()),
        warnings.catch_warnings(),
        np.errstate(invalid="ignore", divide="ignore"),
    ):
        warnings.simplefilter("ignore")
        evaluator = meta.CGF1Evaluator([str(path) for path in paths], iou_type=iou_type)
        for coco_eval in evaluator.coco_evals:
            coco_eval.threshold = score_threshold  # the evaluator always builds them at 0.5
        out = evaluator.evaluate(str(folder / "predictions.json"))
    prefix = f"cgF1_eval_{iou_type}_"
    assert all(name.startswith(prefix) for name in out)
    return {name.removeprefix(prefix): value for name, value in out.items()}


def assert_equal_to_meta(ours: CgF1Result, theirs: dict[str, float]) -> None:
    assert list(ours.metrics) == list(theirs)
    for name, value in theirs.items():
        assert not math.isnan(value)
        assert ours.metrics[name] == pytest.approx(value, abs=1e-9, rel=0), name


def shape_mask(shape: Shape, size: tuple[int, int]) -> np.ndarray:
    kind, top, left, bottom, right = shape
    rows, cols = np.ogrid[: size[0], : size[1]]
    if kind == "rect":
        return (rows >= top) & (rows < bottom) & (cols >= left) & (cols < right)
    center_row, center_col = (top + bottom - 1) / 2, (left + right - 1) / 2
    radius_row, radius_col = (bottom - top) / 2, (right - left) / 2
    inside = ((rows - center_row) / radius_row) ** 2 + ((cols - center_col) / radius_col) ** 2
    return inside <= 1


def random_shape(rng: np.random.Generator, size: tuple[int, int]) -> Shape:
    top, left = int(rng.integers(0, size[0] - 3)), int(rng.integers(0, size[1] - 3))
    bottom = int(rng.integers(top + 3, size[0] + 1))
    right = int(rng.integers(left + 3, size[1] + 1))
    return ("rect" if rng.random() < 0.6 else "ellipse", top, left, bottom, right)


def perturb(rng: np.random.Generator, shape: Shape, size: tuple[int, int], jitter: int) -> Shape:
    kind, *sides = shape
    top, left, bottom, right = (side + int(rng.integers(-jitter, jitter + 1)) for side in sides)
    top, left = min(max(top, 0), size[0] - 2), min(max(left, 0), size[1] - 2)
    bottom, right = min(max(bottom, top + 2), size[0]), min(max(right, left + 2), size[1])
    return (kind, top, left, bottom, right)


def uncompressed_rle(mask: np.ndarray) -> dict[str, Any]:
    flat = mask.ravel(order="F").astype(np.int8)
    bounds = np.concatenate(([0], np.flatnonzero(np.diff(flat)) + 1, [flat.size]))
    runs = np.diff(bounds).tolist()
    return {"size": list(mask.shape), "counts": ([0] if flat[0] else []) + runs}


def annotation(
    rng: np.random.Generator, image_id: int, shape: Shape, size: tuple[int, int], crowd: bool
) -> Dataset:
    """A truth as SA-Co writes it: compressed RLE, sometimes a polygon (or, for a crowd,
    an uncompressed RLE), with the box of its mask."""
    mask = shape_mask(shape, size)
    segmentation: Any
    if crowd:
        segmentation = uncompressed_rle(mask)
        encoded = coco_mask.frPyObjects(segmentation, *size)
    elif shape[0] == "rect" and rng.random() < 0.3:
        _, top, left, bottom, right = shape
        corners = [left, top, right, top, right, bottom, left, bottom]
        segmentation = [[float(value + rng.uniform(-0.7, 0.7)) for value in corners]]
        encoded = coco_mask.merge(coco_mask.frPyObjects(segmentation, *size))
    else:
        segmentation = rle(mask)
        encoded = segmentation
    return {
        "image_id": image_id,
        "category_id": 2 if rng.random() < 0.04 else 1,  # 2: not a listed category, left out
        "iscrowd": int(crowd),
        "segmentation": segmentation,
        "bbox": [float(value) for value in coco_mask.toBbox(encoded)],
        "area": float(coco_mask.area(encoded)),
    }


def random_case(
    seed: int,
    *,
    entries: int = 30,
    annotators: int = 1,
    positive_rate: float = 0.6,
    with_predictions: bool = True,
    scores: tuple[float, float] = (0.25, 1.0),
    size: tuple[int, int] = (20, 28),
) -> tuple[list[Dataset], list[Dataset]]:
    """Ground truths (one per annotator) and predictions: image entries in shuffled id order,
    some negative, some not exhaustive, some crowd truths; predictions near the truths, stray
    ones and duplicates, scores around 0.5, RLE counts as str or bytes, with or without boxes."""
    rng = np.random.default_rng(seed)
    image_ids = [int(value) for value in rng.choice(np.arange(1, 1000), entries, replace=False)]
    instances = {
        image_id: [random_shape(rng, size) for _ in range(int(rng.integers(1, 4)))]
        if rng.random() < positive_rate
        else []
        for image_id in image_ids
    }
    truths = []
    for annotator in range(annotators):
        images, annotations = [], []
        for image_id in image_ids:
            images.append(
                {
                    "id": image_id,
                    "file_name": f"{image_id}.jpg",
                    "height": size[0],
                    "width": size[1],
                    "text_input": f"phrase {image_id}",
                    "is_instance_exhaustive": bool(rng.random() > 0.12),
                }
            )
            shapes = instances[image_id]
            if annotator > 0:  # another annotator: shifted, some missed, some extra
                shapes = [perturb(rng, shape, size, 1) for shape in shapes if rng.random() < 0.8]
                if rng.random() < 0.15:
                    shapes.append(random_shape(rng, size))
            annotations += [annotation(rng, image_id, shape, size, False) for shape in shapes]
            if rng.random() < 0.1:
                annotations.append(annotation(rng, image_id, random_shape(rng, size), size, True))
        for number, item in enumerate(annotations, start=1):
            item["id"] = number
        truths.append({"images": images, "annotations": annotations, "categories": [CATEGORY]})

    found: list[Dataset] = []
    for image_id in image_ids if with_predictions else []:
        shapes = [
            perturb(rng, shape, size, 3) for shape in instances[image_id] if rng.random() < 0.85
        ]
        shapes += [random_shape(rng, size) for _ in range(int(rng.integers(0, 3)))]
        if shapes and rng.random() < 0.25:
            shapes.append(shapes[0])  # a duplicate: tied IoUs in the matching
        # Meta's loader needs all or none of an image's boxes; with several ground truths it
        # needs them all (loading the first stores the masks' boxes as numpy arrays in the
        # results, on which the second's `bbox == []` check raises).
        with_box = annotators > 1 or rng.random() < 0.85
        for shape in shapes:
            mask = shape_mask(shape, size)
            score = 0.5 if rng.random() < 0.05 else float(rng.uniform(*scores))
            result = {
                "image_id": image_id,
                "category_id": 2 if rng.random() < 0.04 else 1,
                "score": score,
                "segmentation": rle(mask, as_bytes=bool(rng.random() < 0.5)),
            }
            if with_box:
                box = coco_mask.toBbox(rle(mask)) + rng.uniform(-1, 1, size=4)
                result["bbox"] = [float(value) for value in box]
            found.append(result)
    order = rng.permutation(len(found))
    return truths, [found[index] for index in order]


CASES: dict[str, dict[str, Any]] = {
    "one annotator": {"entries": 40},
    "oracle, 2 annotators": {"annotators": 2, "entries": 30},
    "oracle, 3 annotators": {"annotators": 3, "entries": 20},
    "no positive images": {"positive_rate": 0.0, "entries": 20},
    "no predictions": {"with_predictions": False, "entries": 20},
    "oracle, no predictions": {"with_predictions": False, "annotators": 2, "entries": 20},
    "nothing passes the threshold": {"scores": (0.0, 0.49), "entries": 20},
}


@pytest.mark.parametrize("iou_type", ["segm", "bbox"])
@pytest.mark.parametrize("case", CASES)
def test_equals_metas_evaluator(meta: ModuleType, tmp_path: Path, case: str, iou_type: str) -> None:
    truths, found = random_case(len(case), **CASES[case])
    ours = evaluate_cgf1(truths, found, iou_type=iou_type)  # type: ignore[arg-type]
    assert_equal_to_meta(ours, meta_metrics(meta, tmp_path, truths, found, iou_type))
    assert ours.evaluated_queries < len(truths[0]["images"])  # some entries not exhaustive
    if case in ("one annotator", "oracle, 2 annotators", "oracle, 3 annotators"):
        # Not a vacuous dataset: a mix of matches, misses and image-level outcomes.
        assert 0 < ours.cgf1 < 1
        assert ours.true_positives[-1] < ours.true_positives[0]
        counts = (
            ours.image_true_positives,
            ours.image_false_positives,
            ours.image_true_negatives,
            ours.image_false_negatives,
        )
        assert all(count > 0 for count in counts)


@pytest.mark.parametrize("score_threshold", [0.3, 0.75])
def test_equals_metas_evaluator_at_other_score_thresholds(
    meta: ModuleType, tmp_path: Path, score_threshold: float
) -> None:
    truths, found = random_case(11, entries=25, annotators=2)
    ours = evaluate_cgf1(truths, found, score_threshold=score_threshold)
    theirs = meta_metrics(meta, tmp_path, truths, found, "segm", score_threshold)
    assert_equal_to_meta(ours, theirs)


@pytest.mark.parametrize("seed", range(5))
def test_equals_metas_evaluator_on_more_seeds(meta: ModuleType, tmp_path: Path, seed: int) -> None:
    truths, found = random_case(100 + seed, entries=20, annotators=1 + seed % 3)
    for iou_type in ("segm", "bbox"):
        ours = evaluate_cgf1(truths, found, iou_type=iou_type)  # type: ignore[arg-type]
        assert_equal_to_meta(ours, meta_metrics(meta, tmp_path, truths, found, iou_type))


def test_iou_thresholds_are_pycocotools() -> None:
    from pycocotools.cocoeval import Params

    assert tuple(Params(iouType="segm").iouThrs.tolist()) == IOU_THRESHOLDS


def test_sam3lib_never_imports_metas_package() -> None:
    def imports(path: Path) -> Iterator[str]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                yield from (alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                yield node.module

    source = Path(sam3lib.__file__).parent
    offending = [
        f"{path.relative_to(source)}: {name}"
        for path in sorted(source.rglob("*.py"))
        for name in imports(path)
        if name == "sam3" or name.startswith("sam3.")
    ]
    assert offending == []


# 3. Typed errors.


def error_cases() -> dict[str, tuple[Any, Any, dict[str, Any], str]]:
    size = (20, 20)
    region = rect_region(size, 2, 2, 5, 5)
    truth = dataset(size, {1: [region], 2: []})
    good = prediction(1, 0.9, region)

    def edited(value: Dataset, **changes: Any) -> Dataset:
        return {**copy.deepcopy(value), **changes}

    no_id = edited(truth, images=[{"height": 20, "width": 20}])
    twice = edited(truth, images=truth["images"] + truth["images"][:1])
    stray = edited(truth, annotations=[{**truth["annotations"][0], "image_id": 7}])
    no_size = edited(truth, images=[{"id": 1}, {"id": 2}])
    wrong_size = {**good, "segmentation": rle(rect_mask((10, 20), 0, 0, 2, 2))}
    nothing = dataset(size, {1: [], 2: []})
    for image in nothing["images"]:
        image["is_instance_exhaustive"] = False
    other = dataset(size, {1: [region]})
    return {
        "unknown image": ([truth], [{**good, "image_id": 999}], {}, r"predictions\[0\].*999"),
        "missing score": ([truth], [{k: v for k, v in good.items() if k != "score"}], {}, "score"),
        "score not a number": ([truth], [{**good, "score": "high"}], {}, "score"),
        "segm without a mask": (
            [truth],
            [{k: v for k, v in good.items() if k != "segmentation"}],
            {},
            "segmentation",
        ),
        "bbox without box or mask": (
            [truth],
            [{"image_id": 1, "score": 0.9}],
            {"iou_type": "bbox"},
            "'bbox' or 'segmentation'",
        ),
        "bad box": ([truth], [{**good, "bbox": [1, 2, 3]}], {"iou_type": "bbox"}, r"x, y, width"),
        "rle of another size": ([truth], [wrong_size], {}, r"size \[10, 20\]"),
        "prediction not an object": ([truth], ["mask"], {}, r"predictions\[0\]"),
        "predictions not a list": ([truth], good, {}, "list of COCO results"),
        "image without id": ([no_id], [], {}, r"\['images'\]\[0\]\['id'\]"),
        "duplicate image ids": ([twice], [], {}, "duplicate image id 1"),
        "annotation of no image": ([stray], [], {}, r"annotations'\]\[0\].*image_id 7"),
        "segm without image size": ([no_size], [], {}, "height"),
        "one dict, not a list": (truth, [], {}, "list of COCO dicts"),
        "no ground truth": ([], [], {}, "at least one"),
        "nothing exhaustive": ([nothing], [], {}, "no image entry to evaluate"),
        "oracle file lacks an image": ([truth, other], [], {}, r"ground_truths\[1\].*image 2"),
        "unknown iou type": ([truth], [], {"iou_type": "keypoints"}, "iou_type"),
    }


ERROR_CASES = error_cases()


@pytest.mark.parametrize("case", ERROR_CASES)
def test_malformed_input_raises_input_error(case: str) -> None:
    truths, found, options, message = ERROR_CASES[case]
    with pytest.raises(InputError, match=message):
        evaluate_cgf1(truths, found, **options)
