"""Hand-made masks for tests with known answers."""

from __future__ import annotations

import torch

SIZE = 16


def rects(*boxes: tuple[int, ...], size: int = SIZE) -> torch.Tensor:
    """One ``size`` × ``size`` bool mask per (top, left, bottom, right) box, end-exclusive;
    an empty tuple is an empty mask."""
    masks = torch.zeros(len(boxes), size, size, dtype=torch.bool)
    for mask, box in zip(masks, boxes, strict=True):
        if box:
            top, left, bottom, right = box
            mask[top:bottom, left:right] = True
    return masks
