"""Hypothesis strategies shared by the fuzz suites: binary masks of every shape and layout."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import torch
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

SHAPES = ("random", "empty", "full", "pixel", "border", "rectangles")
LAYOUTS = ("C", "F", "reversed", "strided")


@st.composite
def masks(
    draw: st.DrawFn,
    min_side: int = 0,
    max_side: int = 24,
    layouts: bool = True,
    shape: tuple[int, int] | None = None,
) -> npt.NDArray[np.bool_]:
    """A (H, W) bool mask: random, empty, full, one pixel, a frame or a few rectangles.

    With ``layouts`` the array may be Fortran-ordered, a view with negative strides or a
    strided view of a larger array; its values are the same whatever the memory layout.
    ``shape`` fixes (H, W); otherwise each side is drawn from ``min_side..max_side``.
    """
    if shape is None:
        height = draw(st.integers(min_side, max_side))
        width = draw(st.integers(min_side, max_side))
    else:
        height, width = shape
    kind = draw(st.sampled_from(SHAPES))
    mask = np.zeros((height, width), dtype=bool)
    if kind == "random":
        mask = draw(arrays(np.bool_, (height, width), elements=st.booleans(), fill=st.booleans()))
    elif kind == "full":
        mask[:] = True
    elif kind == "pixel" and mask.size:
        mask[draw(st.integers(0, height - 1)), draw(st.integers(0, width - 1))] = True
    elif kind == "border" and mask.size:
        thickness = draw(st.integers(1, max(1, min(height, width) // 2)))
        mask[:] = True
        mask[thickness:-thickness, thickness:-thickness] = False
    elif kind == "rectangles" and mask.size:
        for _ in range(draw(st.integers(1, 4))):
            y0, y1 = sorted(draw(st.lists(st.integers(0, height), min_size=2, max_size=2)))
            x0, x1 = sorted(draw(st.lists(st.integers(0, width), min_size=2, max_size=2)))
            mask[y0:y1, x0:x1] ^= True
    return with_layout(mask, draw(st.sampled_from(LAYOUTS)) if layouts else "C")


@st.composite
def mask_batches(
    draw: st.DrawFn, max_count: int = 5, min_count: int = 0, max_side: int = 16
) -> torch.Tensor:
    """An (N, H, W) bool tensor of masks drawn by :func:`masks`, H and W at least 1."""
    shape = (draw(st.integers(1, max_side)), draw(st.integers(1, max_side)))
    count = draw(st.integers(min_count, max_count))
    drawn = [draw(masks(shape=shape, layouts=False)) for _ in range(count)]
    return torch.from_numpy(np.stack(drawn) if drawn else np.zeros((0, *shape), dtype=bool))


def with_layout(mask: npt.NDArray[np.bool_], layout: str) -> npt.NDArray[np.bool_]:
    """The same values as ``mask`` in another memory layout."""
    if layout == "F":
        return np.asfortranarray(mask)
    if layout == "reversed":
        return np.ascontiguousarray(mask[::-1, ::-1])[::-1, ::-1]
    if layout == "strided":
        larger = np.zeros((2 * mask.shape[0] + 1, 3 * mask.shape[1] + 1), dtype=bool)
        larger[1::2, 2::3] = mask
        return larger[1::2, 2::3]
    return mask
