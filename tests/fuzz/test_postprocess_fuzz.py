"""Property tests of the post-processing functions, judged by their documented definitions.

Each reference below restates a docstring in plain Python (flood fill, greedy NMS, the
definition of a hole); none calls the code under test.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import torch
from hypothesis import assume, example, given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from fuzz.budget import examples
from fuzz.references import bbox_xywh, components, holes, iou
from fuzz.strategies import mask_batches
from sam3lib.errors import InputError
from sam3lib.model.outputs import Sam3Outputs
from sam3lib.postprocess import (
    MaskRefinement,
    boxes_from_masks,
    boxes_to_pixels,
    component_areas,
    connected_components,
    fill_holes,
    mask_iou,
    mask_nms,
    refine_edges,
    remove_small_regions,
    upsample_masks,
)
from sam3lib.postprocess.pipeline import PostprocessOptions, instances


def _numpy(masks: torch.Tensor) -> list[npt.NDArray[np.bool_]]:
    return list(masks.numpy())


# --- boxes ----------------------------------------------------------------------------------------


@examples(100)
@given(mask_batches())
def test_boxes_from_masks_are_the_tightest_boxes_inside_the_image(masks: torch.Tensor) -> None:
    boxes = boxes_from_masks(masks)

    assert boxes.dtype == torch.float32 and boxes.shape == (masks.shape[0], 4)
    for (x0, y0, x1, y1), mask in zip(boxes.tolist(), _numpy(masks), strict=True):
        assert [x0, y0, x1 - x0, y1 - y0] == bbox_xywh(mask)
        assert 0 <= x0 <= x1 <= mask.shape[1] and 0 <= y0 <= y1 <= mask.shape[0]
        inside = np.zeros_like(mask)
        inside[int(y0) : int(y1), int(x0) : int(x1)] = True
        assert not (mask & ~inside).any()


FINITE_OR_INFINITE = st.floats(allow_nan=False, width=32)


@examples(60)
@given(
    st.lists(st.lists(FINITE_OR_INFINITE, min_size=4, max_size=4), max_size=6),
    st.tuples(st.integers(1, 5000), st.integers(1, 5000)),
    st.sampled_from([torch.float16, torch.bfloat16, torch.float32, torch.float64]),
)
def test_boxes_to_pixels_stay_inside_the_image(
    boxes: list[list[float]], size: tuple[int, int], dtype: torch.dtype
) -> None:
    normalised = torch.tensor(boxes, dtype=dtype).reshape(-1, 4)
    height, width = size

    pixels = boxes_to_pixels(normalised, size)

    assert pixels.dtype == torch.float32 and pixels.shape == normalised.shape
    assert (pixels >= 0).all()
    assert (pixels[:, 0::2] <= width).all() and (pixels[:, 1::2] <= height).all()
    # Inside the image the box is just scaled.
    scale = torch.tensor([width, height, width, height], dtype=torch.float32)
    scaled = normalised.to(torch.float32) * scale
    inside = (scaled >= 0) & (scaled <= scale)
    torch.testing.assert_close(pixels[inside], scaled[inside])


# --- IoU and NMS ----------------------------------------------------------------------------------


@examples(100)
@given(mask_batches(max_count=8))
def test_mask_iou_is_intersection_over_union(batch: torch.Tensor) -> None:
    masks, others = batch[: len(batch) // 2], batch[len(batch) // 2 :]

    ious = mask_iou(masks, others)

    assert ious.dtype == torch.float32 and ious.shape == (masks.shape[0], others.shape[0])
    for i, a in enumerate(_numpy(masks)):
        for j, b in enumerate(_numpy(others)):
            assert ious[i, j].item() == pytest.approx(iou(a, b), abs=1e-6)


def _greedy_nms(masks: list[npt.NDArray[np.bool_]], scores: list[float], limit: float) -> list[int]:
    """The docstring's greedy NMS: by descending score, ties in order; drop IoU > limit."""
    order = sorted(range(len(scores)), key=lambda index: (-scores[index], index))
    kept: list[int] = []
    for index in order:
        if all(iou(masks[index], masks[other]) <= limit for other in kept):
            kept.append(index)
    return kept


SCORES = st.one_of(st.sampled_from([0.0, 0.25, 0.5, 1.0]), st.floats(-1e6, 1e6, width=32))
THRESHOLDS = st.one_of(st.sampled_from([0.0, 0.5, 1.0]), st.floats(0.0, 1.0))


@examples(150)
@given(mask_batches(max_count=6, max_side=10), st.data(), THRESHOLDS)
@example(torch.zeros((0, 3, 4), dtype=torch.bool), None, 0.5)  # no masks at all
def test_mask_nms_is_greedy_suppression_by_descending_score(
    masks: torch.Tensor, data: st.DataObject | None, limit: float
) -> None:
    count = masks.shape[0]
    score_list: list[float] = (
        data.draw(st.lists(SCORES, min_size=count, max_size=count)) if data else []
    )
    arrays = _numpy(masks)
    # Where an IoU is a hair from the threshold, float32 rounding decides; not what is tested.
    assume(
        not any(0 < abs(iou(a, b) - limit) < 1e-6 for a in arrays for b in arrays),
    )
    scores = torch.tensor(score_list, dtype=torch.float32)

    kept = mask_nms(masks, scores, limit)

    assert kept.dtype == torch.int64
    assert kept.tolist() == _greedy_nms(arrays, score_list, limit)
    # What that means: a subset, by descending score, no kept pair above the threshold.
    assert len(set(kept.tolist())) == len(kept) and all(0 <= i < count for i in kept.tolist())
    assert all(scores[kept[:-1]] >= scores[kept[1:]]) if len(kept) > 1 else True
    for position, first in enumerate(kept.tolist()):
        for second in kept.tolist()[position + 1 :]:
            assert iou(arrays[first], arrays[second]) <= limit


# --- components, holes, regions -------------------------------------------------------------------


def _reference_labels(mask: npt.NDArray[np.bool_], connectivity: int) -> npt.NDArray[np.int64]:
    labels = np.zeros(mask.shape, dtype=np.int64)
    for region in components(mask, connectivity):
        first_row, first_col = region[0]
        for row, col in region:
            labels[row, col] = 1 + first_row * mask.shape[1] + first_col
    return labels


def _reference_areas(mask: npt.NDArray[np.bool_], connectivity: int) -> npt.NDArray[np.int64]:
    areas = np.zeros(mask.shape, dtype=np.int64)
    for region in components(mask, connectivity):
        for row, col in region:
            areas[row, col] = len(region)
    return areas


@examples(100)
@given(mask_batches(), st.sampled_from([4, 8]))
def test_components_are_the_flood_fill_regions(masks: torch.Tensor, connectivity: Any) -> None:
    labels = connected_components(masks, connectivity)
    areas = component_areas(labels)

    assert labels.dtype == torch.int64 and labels.shape == masks.shape
    for got, got_areas, mask in zip(labels.numpy(), areas.numpy(), _numpy(masks), strict=True):
        np.testing.assert_array_equal(got, _reference_labels(mask, connectivity))
        np.testing.assert_array_equal(got_areas, _reference_areas(mask, connectivity))


def _reference_fill_holes(mask: npt.NDArray[np.bool_], max_area: int) -> npt.NDArray[np.bool_]:
    filled = mask.copy()
    for hole in holes(mask):
        if len(hole) <= max_area:
            for row, col in hole:
                filled[row, col] = True
    return filled


AREAS = st.one_of(st.integers(0, 6), st.integers(0, 300))


@examples(100)
@given(mask_batches(), AREAS)
def test_fill_holes_fills_exactly_the_small_holes_and_is_idempotent(
    masks: torch.Tensor, max_area: int
) -> None:
    filled = fill_holes(masks, max_area)

    assert filled.dtype == torch.bool and filled.shape == masks.shape
    for got, mask in zip(filled.numpy(), _numpy(masks), strict=True):
        np.testing.assert_array_equal(got, _reference_fill_holes(mask, max_area))
    # The holes left are larger than max_area, so a second pass has nothing to fill.
    torch.testing.assert_close(fill_holes(filled, max_area), filled)


@examples(100)
@given(mask_batches(), AREAS)
def test_remove_small_regions_keeps_exactly_the_large_regions_and_is_idempotent(
    masks: torch.Tensor, min_area: int
) -> None:
    kept = remove_small_regions(masks, min_area)

    assert kept.dtype == torch.bool and kept.shape == masks.shape
    for got, mask in zip(kept.numpy(), _numpy(masks), strict=True):
        np.testing.assert_array_equal(got, mask & (_reference_areas(mask, 8) >= min_area))
    # Removing whole regions leaves the other regions as they were: nothing more to remove.
    torch.testing.assert_close(remove_small_regions(kept, min_area), kept)


@examples(60)
@given(mask_batches(), AREAS, AREAS)
def test_hole_filling_then_region_removal_is_idempotent(
    masks: torch.Tensor, max_area: int, min_area: int
) -> None:
    # Removing a region only merges background into regions already too large to fill or
    # touching the border, so no new hole appears for the second pass.
    clean = MaskRefinement(fill_holes_max_area=max_area, min_region_area=min_area)

    once = clean(masks)

    torch.testing.assert_close(clean(once), once)


@examples(40)
@given(mask_batches(max_count=3), st.integers(0, 3), st.data())
def test_refine_edges_is_mirror_symmetric_and_keeps_straight_edges(
    masks: torch.Tensor, level: int, data: st.DataObject
) -> None:
    refined = refine_edges(masks, level)

    assert refined.dtype == torch.bool and refined.shape == masks.shape
    if level == 0:
        torch.testing.assert_close(refined, masks)
    # A symmetric blur with replicated borders commutes with flips and transposition.
    for dims in ((1,), (2,), (1, 2)):
        torch.testing.assert_close(refine_edges(masks.flip(dims), level), refined.flip(dims))
    torch.testing.assert_close(refine_edges(masks.transpose(1, 2), level), refined.transpose(1, 2))
    # A straight edge, vertical or horizontal, stays exactly where it is.
    height, width = masks.shape[1:]
    column, row = data.draw(st.integers(0, width)), data.draw(st.integers(0, height))
    left = torch.zeros((1, height, width), dtype=torch.bool)
    left[:, :, :column] = True
    top = torch.zeros((1, height, width), dtype=torch.bool)
    top[:, :row] = True
    for half in (left, top):
        torch.testing.assert_close(refine_edges(half, level), half)


# --- mask upsampling ------------------------------------------------------------------------------


@examples(80)
@given(
    st.integers(0, 3),
    st.integers(1, 9),
    st.integers(1, 9),
    st.tuples(st.integers(1, 40), st.integers(1, 40)),
    st.floats(-50, 50),
    st.floats(0, 1),
    st.sampled_from(["meta", "transformers"]),
    st.integers(1, 5000),
)
def test_upsampled_masks_have_the_image_size_and_constant_logits_stay_constant(
    count: int,
    low_height: int,
    low_width: int,
    size: tuple[int, int],
    logit: float,
    threshold: float,
    order: Any,
    chunk: int,
) -> None:
    logits = torch.full((count, low_height, low_width), logit)
    assume(abs(torch.sigmoid(torch.tensor(logit)).item() - threshold) > 1e-6)

    masks = upsample_masks(logits, size, mask_threshold=threshold, order=order)
    chunked = upsample_masks(
        logits, size, mask_threshold=threshold, order=order, max_chunk_pixels=chunk
    )

    assert masks.dtype == torch.bool and masks.shape == (count, *size)
    want = 1 / (1 + math.exp(-logit)) > threshold
    if count:
        assert bool(masks.all()) == want and bool(masks.any()) == want
    torch.testing.assert_close(chunked, masks)


@examples(60)
@given(
    st.integers(0, 3).flatmap(
        lambda count: arrays(
            np.float32,
            (count, 3, 4),
            elements=st.floats(width=32) | st.sampled_from([np.nan, np.inf, -np.inf]),
        )
    ),
    st.tuples(st.integers(1, 20), st.integers(1, 20)),
    st.lists(st.floats(0, 1), min_size=2, max_size=2).map(sorted),
    st.sampled_from(["meta", "transformers"]),
)
def test_a_higher_mask_threshold_never_adds_pixels(
    logits: npt.NDArray[np.float32], size: tuple[int, int], thresholds: list[float], order: Any
) -> None:
    low, high = thresholds
    tensor = torch.from_numpy(logits)

    loose = upsample_masks(tensor, size, mask_threshold=low, order=order)
    strict = upsample_masks(tensor, size, mask_threshold=high, order=order)

    assert loose.shape == strict.shape == (logits.shape[0], *size)
    assert not (strict & ~loose).any()


# --- the whole pipeline ---------------------------------------------------------------------------


@st.composite
def raw_outputs(draw: st.DrawFn) -> Sam3Outputs:
    """Detector outputs for one (image, prompt) pair: Q queries, 6 x 6 mask logits."""
    queries = draw(st.integers(0, 6))
    finite = st.floats(-8, 8, width=32)
    logits = draw(arrays(np.float32, (1, queries, 6, 6), elements=finite))
    boxes = draw(arrays(np.float32, (1, queries, 4), elements=st.floats(-0.5, 1.5, width=32)))
    query_logits = draw(arrays(np.float32, (1, queries), elements=finite))
    presence = draw(arrays(np.float32, (1,), elements=finite))
    return Sam3Outputs(
        mask_logits=torch.from_numpy(logits),
        boxes_xyxy=torch.from_numpy(boxes),
        query_logits=torch.from_numpy(query_logits),
        presence_logit=torch.from_numpy(presence),
        semantic_logits=torch.zeros((1, 1, 6, 6)),
    )


@examples(80)
@given(
    raw_outputs(),
    st.tuples(st.integers(1, 30), st.integers(1, 30)),
    st.floats(0, 1),
    st.none() | st.integers(1, 4),
    st.none() | st.floats(0, 1),
    st.none() | st.integers(0, 5),
)
def test_instances_are_inside_the_image_by_descending_score(
    outputs: Sam3Outputs,
    size: tuple[int, int],
    threshold: float,
    top_k: int | None,
    nms_iou: float | None,
    refine: int | None,
) -> None:
    options = PostprocessOptions.check(threshold, 0.5, top_k, nms_iou, refine, "meta")

    masks, boxes, scores = instances(outputs, 0, size, options)

    count = masks.shape[0]
    assert masks.dtype == torch.bool and masks.shape == (count, *size)
    assert boxes.dtype == scores.dtype == torch.float32
    assert boxes.shape == (count, 4) and scores.shape == (count,)
    assert count <= (top_k or count)
    assert (scores > threshold).all() and (scores[:-1] >= scores[1:]).all()
    height, width = size
    assert (boxes >= 0).all() and (boxes[:, 0::2] <= width).all()
    assert (boxes[:, 1::2] <= height).all()
    if nms_iou is not None and not refine:
        arrays_ = _numpy(masks)
        for first in range(count):
            for second in range(first + 1, count):
                assert iou(arrays_[first], arrays_[second]) <= nms_iou + 1e-6


# --- any argument: a result or an InputError ------------------------------------------------------

ANYTHING = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(),
    st.text(max_size=3),
    st.lists(st.integers(0, 3), max_size=3),
    st.builds(
        torch.zeros,
        st.lists(st.integers(0, 3), max_size=4).map(tuple),
        dtype=st.sampled_from([torch.bool, torch.float32, torch.int64, torch.uint8]),
    ),
)


@examples(300)
@given(
    st.sampled_from(
        [
            boxes_from_masks,
            boxes_to_pixels,
            component_areas,
            connected_components,
            fill_holes,
            mask_iou,
            mask_nms,
            refine_edges,
            remove_small_regions,
            upsample_masks,
        ]
    ),
    st.lists(ANYTHING, min_size=1, max_size=3),
)
def test_any_arguments_give_a_result_or_an_input_error(function: Any, arguments: list[Any]) -> None:
    try:
        function(*arguments)
    except InputError:
        pass
    except TypeError as error:  # a wrong number of arguments is Python's business
        assert "argument" in str(error)
