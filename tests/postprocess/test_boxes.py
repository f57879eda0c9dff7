"""Tests of sam3lib.postprocess.boxes: pixel boxes, boxes around masks, mask IoU and NMS."""

from __future__ import annotations

import pytest
import torch

import sam3lib.postprocess.boxes as boxes_module
from sam3lib.errors import InputError
from sam3lib.postprocess import boxes_from_masks, boxes_to_pixels, mask_iou, mask_nms


def _masks(*rows: str) -> torch.Tensor:
    """Masks drawn side by side: row i of every mask, separated by spaces; '#' is foreground."""
    per_mask = zip(*(row.split() for row in rows), strict=True)
    return torch.tensor([[[char == "#" for char in line] for line in mask] for mask in per_mask])


def _strips(width: int, *spans: tuple[int, int]) -> torch.Tensor:
    """One-row masks, each covering columns [start, stop)."""
    masks = torch.zeros(len(spans), 1, width, dtype=torch.bool)
    for index, (start, stop) in enumerate(spans):
        masks[index, 0, start:stop] = True
    return masks


# --- boxes_to_pixels -----------------------------------------------------------------------------


def test_boxes_to_pixels_scales_x_by_width_and_y_by_height() -> None:
    boxes = torch.tensor([[0.1, 0.2, 0.5, 0.9], [0.0, 0.0, 1.0, 1.0]])

    pixels = boxes_to_pixels(boxes, (100, 200))

    assert pixels.dtype == torch.float32
    torch.testing.assert_close(pixels, torch.tensor([[20.0, 20.0, 100.0, 90.0], [0, 0, 200, 100]]))


def test_boxes_to_pixels_clips_to_the_image() -> None:
    boxes = torch.tensor([[-0.1, -0.5, 1.2, 1.5], [0.5, 1.1, 0.6, 1.2]])

    pixels = boxes_to_pixels(boxes, (10, 20))

    assert pixels.tolist() == [[0.0, 0.0, 20.0, 10.0], [10.0, 10.0, 12.0, 10.0]]


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_boxes_to_pixels_returns_float32_for_any_float_input(dtype: torch.dtype) -> None:
    pixels = boxes_to_pixels(torch.tensor([[0.25, 0.5, 0.75, 1.0]], dtype=dtype), (8, 4))

    assert pixels.dtype == torch.float32 and pixels.tolist() == [[1.0, 4.0, 3.0, 8.0]]


def test_boxes_to_pixels_of_no_boxes_and_on_the_input_device(device: torch.device) -> None:
    boxes = torch.zeros(0, 4, device=device)

    pixels = boxes_to_pixels(boxes, (5, 5))

    assert pixels.shape == (0, 4) and pixels.device == device


@pytest.mark.parametrize(
    ("boxes", "size", "argument"),
    [
        (torch.zeros(2, 3), (4, 4), "boxes_xyxy"),
        (torch.zeros(4), (4, 4), "boxes_xyxy"),
        (torch.zeros(1, 4, dtype=torch.int64), (4, 4), "boxes_xyxy"),
        (torch.zeros(1, 4), (0, 4), "size"),
        (torch.zeros(1, 4), (4,), "size"),
    ],
)
def test_boxes_to_pixels_rejects_bad_inputs(
    boxes: torch.Tensor, size: object, argument: str
) -> None:
    with pytest.raises(InputError, match=rf"^{argument}:"):
        boxes_to_pixels(boxes, size)  # type: ignore[arg-type]


# --- boxes_from_masks ----------------------------------------------------------------------------


def test_boxes_from_masks_enclose_each_mask_in_pixel_edge_coordinates() -> None:
    masks = _masks(
        "......  ......  ......  ######  #.....",
        "......  ...#..  ..#...  ######  ......",
        "......  ......  ..##..  ######  ....#.",
        "......  ......  ......  ######  ......",
        "......  ......  ......  ######  ......",
    )

    boxes = boxes_from_masks(masks)

    assert boxes.dtype == torch.float32
    assert boxes.tolist() == [
        [0.0, 0.0, 0.0, 0.0],  # empty
        [3.0, 1.0, 4.0, 2.0],  # one pixel at row 1, column 3
        [2.0, 1.0, 4.0, 3.0],  # an L over rows 1-2, columns 2-3
        [0.0, 0.0, 6.0, 5.0],  # the whole image
        [0.0, 0.0, 5.0, 3.0],  # two separate pixels, (row 0, col 0) and (row 2, col 4)
    ]


def test_boxes_from_masks_use_any_device(device: torch.device) -> None:
    masks = torch.zeros(1, 6, 7, dtype=torch.bool, device=device)
    masks[0, 2:5, 1:3] = True

    boxes = boxes_from_masks(masks)

    assert boxes.device == device and boxes.tolist() == [[1.0, 2.0, 3.0, 5.0]]


def test_boxes_from_no_masks() -> None:
    assert boxes_from_masks(torch.zeros(0, 3, 3, dtype=torch.bool)).shape == (0, 4)


@pytest.mark.parametrize(
    "masks", [torch.zeros(2, 3, 3, dtype=torch.uint8), torch.zeros(3, 3, dtype=torch.bool)]
)
def test_boxes_from_masks_reject_non_mask_input(masks: torch.Tensor) -> None:
    with pytest.raises(InputError, match=r"^masks:"):
        boxes_from_masks(masks)


# --- mask_iou ------------------------------------------------------------------------------------


def test_mask_iou_by_hand() -> None:
    a = _strips(10, (0, 4), (0, 0))  # 4 pixels; empty
    b = _strips(10, (2, 8), (0, 4), (5, 9), (0, 0))  # 6 px overlapping 2; equal; disjoint; empty

    iou = mask_iou(a, b)

    assert iou.shape == (2, 4) and iou.dtype == torch.float32
    assert iou.tolist() == [[0.25, 1.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]


def test_mask_iou_matches_counting_pixels_on_random_masks() -> None:
    generator = torch.Generator().manual_seed(0)
    a = torch.rand(4, 9, 11, generator=generator) < 0.4
    b = torch.rand(3, 9, 11, generator=generator) < 0.6

    expected = torch.tensor([[float((x & y).sum()) / float((x | y).sum()) for y in b] for x in a])

    torch.testing.assert_close(mask_iou(a, b), expected, rtol=0, atol=1e-6)


def test_mask_iou_counts_the_same_in_pixel_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    generator = torch.Generator().manual_seed(1)
    a = torch.rand(3, 20, 20, generator=generator) < 0.5
    b = torch.rand(2, 20, 20, generator=generator) < 0.5
    one_shot = mask_iou(a, b)

    monkeypatch.setattr(boxes_module, "_IOU_CHUNK_FLOATS", 5 * 7)  # 7 pixels per chunk

    assert torch.equal(mask_iou(a, b), one_shot)


def test_mask_iou_rejects_masks_of_different_sizes() -> None:
    with pytest.raises(InputError, match=r"^masks_b:"):
        mask_iou(torch.zeros(1, 4, 4, dtype=torch.bool), torch.zeros(1, 4, 5, dtype=torch.bool))
    with pytest.raises(InputError, match=r"^masks_a:"):
        mask_iou(torch.zeros(1, 4, 4), torch.zeros(1, 4, 4, dtype=torch.bool))


# --- mask_nms ------------------------------------------------------------------------------------


def test_nms_drops_a_mask_overlapping_a_better_one_above_the_threshold() -> None:
    # 0: columns 1-6 (score 0.8), 1: columns 0-5 (score 0.9), 2: columns 7-9 (score 0.7).
    # IoU(0, 1) = 5 / 7 ≈ 0.714; 2 overlaps nothing.
    masks = _strips(10, (1, 7), (0, 6), (7, 10))
    scores = torch.tensor([0.8, 0.9, 0.7])

    assert mask_nms(masks, scores, iou_threshold=0.5).tolist() == [1, 2]
    assert mask_nms(masks, scores, iou_threshold=0.75).tolist() == [1, 0, 2]


def test_nms_lets_a_suppressed_mask_suppress_nothing() -> None:
    # a (best) overlaps b (IoU 4/6), b overlaps c (IoU 4/6), a and c share 2 of 8 pixels (0.25).
    masks = _strips(12, (0, 5), (1, 6), (3, 8))
    scores = torch.tensor([0.9, 0.8, 0.7])

    assert mask_nms(masks, scores, iou_threshold=0.5).tolist() == [0, 2]


def test_nms_keeps_equal_scores_in_mask_order() -> None:
    masks = _strips(9, (0, 3), (3, 6), (6, 9), (0, 3))

    keep = mask_nms(masks, torch.tensor([0.5, 0.5, 0.5, 0.5]), iou_threshold=0.5)

    assert keep.tolist() == [0, 1, 2]  # 3 duplicates 0, which comes first


def test_nms_threshold_one_keeps_even_identical_masks_and_zero_drops_any_overlap() -> None:
    masks = _strips(6, (0, 3), (0, 3), (2, 6), (5, 6))
    scores = torch.tensor([0.4, 0.3, 0.2, 0.1])

    assert mask_nms(masks, scores, iou_threshold=1.0).tolist() == [0, 1, 2, 3]
    # 2 touches 0 at column 2 and goes; 3 touches only 2, which is gone, and stays.
    assert mask_nms(masks, scores, iou_threshold=0.0).tolist() == [0, 3]


def test_nms_of_no_masks_and_on_the_masks_device(device: torch.device) -> None:
    empty = mask_nms(
        torch.zeros(0, 4, 4, dtype=torch.bool, device=device),
        torch.zeros(0, device=device),
        0.5,
    )
    masks = _strips(4, (0, 2), (0, 2)).to(device)
    keep = mask_nms(masks, torch.tensor([0.1, 0.2], device=device), 0.5)

    assert empty.shape == (0,) and empty.dtype == torch.int64 and empty.device == device
    assert keep.device == device and keep.tolist() == [1]


@pytest.mark.parametrize(
    ("scores", "threshold", "argument"),
    [
        (torch.tensor([0.5]), 0.5, "scores"),  # one score for two masks
        (torch.tensor([[0.5, 0.4]]), 0.5, "scores"),
        (torch.tensor([1, 0]), 0.5, "scores"),
        (torch.tensor([0.5, 0.4]), 1.5, "iou_threshold"),
        (torch.tensor([0.5, 0.4]), -0.5, "iou_threshold"),
    ],
)
def test_nms_rejects_bad_inputs(scores: torch.Tensor, threshold: float, argument: str) -> None:
    with pytest.raises(InputError, match=rf"^{argument}:"):
        mask_nms(_strips(4, (0, 2), (1, 3)), scores, threshold)
