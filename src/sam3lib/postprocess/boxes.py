"""Boxes in pixels, boxes around masks, mask IoU and mask non-maximum suppression.

Pixel boxes are xyxy in pixel-edge coordinates: pixel (row y, column x) covers
[x, x + 1) × [y, y + 1), so a box (0, 0, W, H) covers the whole image.
"""

from __future__ import annotations

import torch

from sam3lib.errors import InputError
from sam3lib.postprocess._checks import (
    check_float_tensor,
    check_masks,
    check_size,
    check_unit_interval,
)

__all__ = ["boxes_from_masks", "boxes_to_pixels", "mask_iou", "mask_nms"]

# float32 sums of 0/1 products are exact integers up to 2**24; larger masks count in float64.
_EXACT_FLOAT32_COUNT = 1 << 24
# Pixels of (N + M) masks converted to float at once in mask_iou: about 128 MB of float32.
_IOU_CHUNK_FLOATS = 1 << 25


def boxes_to_pixels(boxes_xyxy: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Scales normalised xyxy boxes to pixels of an image of ``size`` and clips them to it.

    Args:
        boxes_xyxy: (N, 4) float boxes (x0, y0, x1, y1), normalised to [0, 1].
        size: (H, W) of the image.

    Returns:
        (N, 4) float32 boxes (x0·W, y0·H, x1·W, y1·H), clipped to [0, W] × [0, H], on the
        device of ``boxes_xyxy``.

    Raises:
        InputError: ``boxes_xyxy`` is not an (N, 4) float tensor or ``size`` is not two
            positive ints.

    Example:
        >>> boxes_to_pixels(torch.tensor([[0.25, 0.5, 1.5, 1.0]]), (100, 200)).tolist()
        [[50.0, 50.0, 200.0, 100.0]]
    """
    check_float_tensor(boxes_xyxy, "boxes_xyxy", 2, "(N, 4)")
    if boxes_xyxy.shape[1] != 4:
        raise InputError(f"boxes_xyxy: expected shape (N, 4), got {tuple(boxes_xyxy.shape)}")
    height, width = check_size(size, "size")
    boxes = boxes_xyxy.to(torch.float32)
    scale = torch.tensor([width, height, width, height], dtype=torch.float32, device=boxes.device)
    pixels = boxes * scale
    return torch.minimum(pixels.clamp_(min=0.0), scale)


def boxes_from_masks(masks: torch.Tensor) -> torch.Tensor:
    """The tightest pixel box around each mask.

    Args:
        masks: (N, H, W) bool.

    Returns:
        (N, 4) float32 boxes (x_min, y_min, x_max + 1, y_max + 1) in pixel-edge coordinates,
        where x_min..x_max are the columns and y_min..y_max the rows the mask occupies; all
        zeros for an empty mask. On the device of ``masks``.

    Raises:
        InputError: ``masks`` is not an (N, H, W) bool tensor.

    Example:
        >>> masks = torch.zeros(1, 4, 5, dtype=torch.bool)
        >>> masks[0, 1:3, 2] = True
        >>> boxes_from_masks(masks).tolist()
        [[2.0, 1.0, 3.0, 3.0]]
    """
    check_masks(masks)
    x_min, x_max = _occupied_span(masks.any(dim=1))
    y_min, y_max = _occupied_span(masks.any(dim=2))
    boxes = torch.stack([x_min, y_min, x_max + 1, y_max + 1], dim=1).to(torch.float32)
    empty = ~masks.flatten(1).any(dim=1)
    return boxes.masked_fill_(empty.unsqueeze(1), 0.0)


def mask_iou(masks_a: torch.Tensor, masks_b: torch.Tensor) -> torch.Tensor:
    """Intersection over union of every mask in ``masks_a`` with every mask in ``masks_b``.

    Args:
        masks_a: (N, H, W) bool.
        masks_b: (M, H, W) bool, the same H and W.

    Returns:
        (N, M) float32 IoU on the device of ``masks_a``; 0 where both masks are empty.

    Raises:
        InputError: an argument is not an (·, H, W) bool tensor, or the sizes differ.

    Example:
        >>> a = torch.tensor([[[True, True, False, False]]])
        >>> b = torch.tensor([[[False, True, True, False]], [[False, False, False, False]]])
        >>> [round(value, 4) for value in mask_iou(a, b)[0].tolist()]
        [0.3333, 0.0]
    """
    check_masks(masks_a, "masks_a")
    check_masks(masks_b, "masks_b")
    if masks_a.shape[1:] != masks_b.shape[1:]:
        raise InputError(
            f"masks_b: expected the same (H, W) as masks_a {tuple(masks_a.shape[1:])}, "
            f"got {tuple(masks_b.shape[1:])}"
        )
    flat_a, flat_b = masks_a.flatten(1), masks_b.flatten(1)
    pixels = flat_a.shape[1]
    dtype = torch.float32 if pixels <= _EXACT_FLOAT32_COUNT else torch.float64
    intersection = torch.zeros(
        (flat_a.shape[0], flat_b.shape[0]), dtype=dtype, device=masks_a.device
    )
    # Pixels in chunks: the float copies matmul needs would otherwise be N + M full images.
    step = max(1, _IOU_CHUNK_FLOATS // max(1, flat_a.shape[0] + flat_b.shape[0]))
    for start in range(0, pixels, step):
        part_a = flat_a[:, start : start + step].to(dtype)
        part_b = flat_b[:, start : start + step].to(dtype)
        intersection.addmm_(part_a, part_b.T)
    area_a = flat_a.sum(dim=1).to(dtype)
    area_b = flat_b.sum(dim=1).to(dtype)
    union = area_a.unsqueeze(1) + area_b.unsqueeze(0) - intersection
    iou = torch.where(union > 0, intersection / union.clamp(min=1), torch.zeros_like(union))
    return iou.to(torch.float32)


def mask_nms(masks: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy non-maximum suppression on mask IoU.

    Masks are visited by descending score (ties keep their order); a mask is kept unless its
    IoU with an already kept mask is greater than ``iou_threshold``.

    Args:
        masks: (N, H, W) bool.
        scores: (N,) float.
        iou_threshold: in [0, 1]; 1 keeps every mask (an IoU is never above 1).

    Returns:
        (K,) int64 indices of the kept masks, by descending score, on the device of ``masks``.

    Raises:
        InputError: an argument has the wrong type, shape or value.

    Example:
        >>> masks = torch.zeros(3, 1, 4, dtype=torch.bool)
        >>> masks[0, 0, :2] = masks[1, 0, :3] = masks[2, 0, 3] = True
        >>> mask_nms(masks, torch.tensor([0.5, 0.9, 0.1]), iou_threshold=0.5).tolist()
        [1, 2]
    """
    check_masks(masks)
    check_float_tensor(scores, "scores", 1, "(N,)")
    if scores.shape[0] != masks.shape[0]:
        raise InputError(
            f"scores: expected one score per mask ({masks.shape[0]}), got {scores.shape[0]}"
        )
    limit = check_unit_interval(iou_threshold, "iou_threshold")
    order = torch.argsort(scores.to(masks.device), descending=True, stable=True)
    # One (N, N) matrix to the host: the greedy pass is sequential and N is small (≤ 200).
    over_limit = mask_iou(masks, masks) > limit
    overlaps = over_limit[order][:, order].cpu().tolist()
    suppressed = [False] * len(overlaps)
    kept: list[int] = []
    for rank, row in enumerate(overlaps):
        if suppressed[rank]:
            continue
        kept.append(rank)
        suppressed = [done or overlap for done, overlap in zip(suppressed, row, strict=True)]
    return order[torch.tensor(kept, dtype=torch.int64, device=order.device)]


def _occupied_span(occupied: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, L) bool -> first and last True positions along L (int64; meaningless if none)."""
    length = occupied.shape[1]
    positions = torch.arange(length, device=occupied.device).expand_as(occupied)
    first = torch.where(occupied, positions, length).amin(dim=1)
    last = torch.where(occupied, positions, -1).amax(dim=1)
    return first, last
