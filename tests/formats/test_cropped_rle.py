"""encode_cropped_rle: the COCO RLE of a mask held as its crop, checked against pycocotools
encoding the full-size mask (the reference), never against our own encoder's output."""

from __future__ import annotations

from typing import Any

import numpy as np
import pycocotools.mask as coco_mask
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sam3lib.errors import InputError
from sam3lib.formats import encode_cropped_rle


def coco_string(crop: np.ndarray, top: int, left: int, size: tuple[int, int]) -> dict[str, Any]:
    full = np.zeros(size, dtype=np.uint8)
    full[top : top + crop.shape[0], left : left + crop.shape[1]] = crop
    encoded = coco_mask.encode(np.asfortranarray(full))
    return {"size": [int(side) for side in encoded["size"]], "counts": encoded["counts"].decode()}


CASES = {
    # A crop as tall as the image: a run ending at the bottom goes on at the next column's top.
    "full height, runs wrap columns": (np.ones((6, 3), dtype=bool), 0, 2, (6, 7)),
    "bottom-right corner": (np.array([[0, 1], [1, 1]], dtype=bool), 4, 5, (6, 7)),
    "top-left pixel": (np.ones((1, 1), dtype=bool), 0, 0, (6, 7)),
    "whole image": (np.ones((6, 7), dtype=bool), 0, 0, (6, 7)),
    "empty crop": (np.zeros((2, 3), dtype=bool), 1, 1, (6, 7)),
    "holes and stripes": (np.array([[1, 0, 1], [1, 1, 1], [0, 1, 0]], dtype=bool), 2, 3, (6, 7)),
}


@pytest.mark.parametrize("case", CASES)
def test_matches_pycocotools_on_the_full_mask(case: str) -> None:
    crop, top, left, size = CASES[case]
    assert encode_cropped_rle(crop, top, left, size) == coco_string(crop, top, left, size)


@st.composite
def crops(draw: st.DrawFn) -> tuple[np.ndarray, int, int, tuple[int, int]]:
    height, width = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    crop_height, crop_width = draw(st.integers(1, height)), draw(st.integers(1, width))
    top, left = draw(st.integers(0, height - crop_height)), draw(st.integers(0, width - crop_width))
    bits = draw(
        st.lists(
            st.booleans(), min_size=crop_height * crop_width, max_size=crop_height * crop_width
        )
    )
    crop = np.array(bits, dtype=bool).reshape(crop_height, crop_width)
    return crop, top, left, (height, width)


@settings(max_examples=150, deadline=None)
@given(crops())
def test_any_crop_anywhere_matches_pycocotools(
    case: tuple[np.ndarray, int, int, tuple[int, int]],
) -> None:
    crop, top, left, size = case
    assert encode_cropped_rle(crop, top, left, size) == coco_string(crop, top, left, size)


def test_a_large_image_costs_what_the_crop_does() -> None:
    # 40 000 x 40 000 is 1.6 GB as a full mask; the crop is 3 x 2 pixels. pycocotools reads
    # area and box straight from the runs (its run lengths are 32-bit: this size still fits).
    crop = np.array([[1, 0], [1, 1], [0, 1]], dtype=bool)
    encoded = encode_cropped_rle(crop, 39_997, 12_345, (40_000, 40_000))
    rle = {"size": encoded["size"], "counts": encoded["counts"].encode()}
    assert coco_mask.area(rle) == 4
    assert coco_mask.toBbox(rle).tolist() == [12_345, 39_997, 2, 3]


@pytest.mark.parametrize(("top", "left", "size"), [(-1, 0, (5, 5)), (0, 4, (5, 5)), (4, 0, (5, 5))])
def test_a_crop_outside_the_image_is_refused(top: int, left: int, size: tuple[int, int]) -> None:
    with pytest.raises(InputError, match="does not fit"):
        encode_cropped_rle(np.ones((2, 2), dtype=bool), top, left, size)
