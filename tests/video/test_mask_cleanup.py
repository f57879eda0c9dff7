"""Holes and specks out of low-resolution logits, on constructed masks (Meta's rule)."""

from __future__ import annotations

import pytest
import torch

from sam3lib.errors import InputError
from sam3lib.video.mask_cleanup import HOLE_LOGIT, SPECK_LOGIT, fill_holes_and_specks


def square_with_hole(hole: int) -> torch.Tensor:
    """A 20×20 object (logit 5) in a 30×30 field (−5) with a ``hole``-pixel row hole."""
    logits = torch.full((1, 30, 30), -5.0)
    logits[0, 5:25, 5:25] = 5.0
    logits[0, 10, 8 : 8 + hole] = -5.0
    return logits


def test_holes_up_to_the_area_are_filled() -> None:
    filled = fill_holes_and_specks(square_with_hole(16), 16)
    assert torch.all(filled[0, 10, 8:24] == HOLE_LOGIT)
    kept = fill_holes_and_specks(square_with_hole(17), 16)
    assert torch.all(kept[0, 10, 8:25] == -5.0)


def test_holes_are_8_connected_and_border_regions_count() -> None:
    logits = torch.full((1, 10, 10), 5.0)
    logits[0, 2, 2] = logits[0, 3, 3] = -5.0  # diagonal neighbours: one hole of 2
    logits[0, 0, 9] = -5.0  # a background pixel on the border
    out = fill_holes_and_specks(logits, 2)
    assert out[0, 2, 2] == out[0, 3, 3] == out[0, 0, 9] == HOLE_LOGIT
    assert fill_holes_and_specks(logits, 1)[0, 2, 2] == -5.0


def test_specks_go_but_a_small_object_stays() -> None:
    logits = torch.full((2, 20, 20), -5.0)
    logits[0, 2:12, 2:12] = 5.0  # 100 px object ...
    logits[0, 15, 15] = 5.0  # ... and a 1 px speck
    logits[1, 4:7, 4:7] = 5.0  # a 9 px object alone: limit min(16, 9 // 2) = 4 keeps it
    out = fill_holes_and_specks(logits, 16)
    assert out[0, 15, 15] == SPECK_LOGIT
    assert torch.all(out[0, 2:12, 2:12] == 5.0)
    assert torch.all(out[1, 4:7, 4:7] == 5.0)


def test_area_zero_changes_nothing_and_bad_input_is_refused() -> None:
    logits = square_with_hole(3)
    assert fill_holes_and_specks(logits, 0) is logits
    with pytest.raises(InputError, match="mask_logits"):
        fill_holes_and_specks(torch.zeros(30, 30), 16)
