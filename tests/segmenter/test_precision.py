"""bf16 autocast on the CPU against fp32, through the whole Segmenter (tiny model)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from sam3lib import Segmenter

PROMPTS = ["cat", "red car", "a person on a bicycle"]


@pytest.mark.parametrize("cast_weights", [False, True])
def test_bf16_matches_fp32(
    tiny_checkpoint_dir: Path,
    segmenter: Segmenter,
    photo: npt.NDArray[np.uint8],
    cast_weights: bool,
) -> None:
    bf16 = Segmenter.from_pretrained(
        tiny_checkpoint_dir, precision="bf16", cast_weights=cast_weights
    )
    assert bf16.backend.name == "amp" and bf16.backend.precision == "bf16"
    boxes = [[30, 20, 120, 110]]
    for options in ({}, {"boxes": boxes}):
        # threshold 0 keeps every query, so scores and masks are compared query by query.
        low = bf16.segment(photo, PROMPTS, threshold=0.0, **options)
        full = segmenter.segment(photo, PROMPTS, threshold=0.0, **options)
        for got, want in zip(low, full, strict=True):
            pairs = _pair_by_box(got.boxes, want.boxes)
            np.testing.assert_allclose(got.scores[pairs], want.scores, atol=1e-2)
            intersection = np.logical_and(got.masks[pairs], want.masks).sum()
            union = np.logical_or(got.masks[pairs], want.masks).sum()
            assert intersection / union >= 0.98


def _pair_by_box(boxes: npt.NDArray[np.float32], reference: npt.NDArray[np.float32]) -> Any:
    """For each reference instance, the index of the instance with the nearest box.

    Results are sorted by score, and bf16 may swap two queries of nearly equal score; the
    boxes tell the queries apart.
    """
    distances = np.abs(reference[:, None, :] - boxes[None, :, :]).sum(-1)
    pairs = distances.argmin(axis=1)
    assert len(set(pairs.tolist())) == len(pairs), "boxes do not pair the queries one to one"
    return pairs
