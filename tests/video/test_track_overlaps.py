"""Occlusion suppression, the pixel-wise argmax, shrink suppression and memory object scores
on hand-made masks."""

from __future__ import annotations

import pytest
import torch

from helpers.masks import SIZE, rects
from sam3lib.errors import InputError
from sam3lib.video.overlaps import (
    NEVER_OCCLUDED,
    blank_masks,
    keep_highest_per_pixel,
    memory_object_logits,
    occlusion_suppression,
    suppress_shrunk_masks,
)
from sam3lib.video.tracking_config import TrackingConfig


def logits_of(masks: torch.Tensor, inside: float = 1.0) -> torch.Tensor:
    return torch.where(masks, inside, -1.0)


def frames(*values: int) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.int64)


# --- occlusion ---------------------------------------------------------------------------

SAME = (0, 0, 10, 10)
CLOSE = (0, 0, 10, 9)  # IoU 0.9 with SAME
APART = (12, 12, 16, 16)


def test_the_more_recently_occluded_track_is_blanked() -> None:
    masks = rects(SAME, CLOSE)
    assert occlusion_suppression(masks, frames(7, 3)).tolist() == [True, False]
    assert occlusion_suppression(masks, frames(3, 7)).tolist() == [False, True]


def test_a_never_occluded_partner_blanks_no_one() -> None:
    masks = rects(SAME, CLOSE)
    assert occlusion_suppression(masks, frames(7, NEVER_OCCLUDED)).tolist() == [False, False]


def test_equally_recent_occlusions_blank_no_one() -> None:
    assert occlusion_suppression(rects(SAME, CLOSE), frames(4, 4)).tolist() == [False, False]


def test_occlusion_needs_an_iou_of_0_7() -> None:
    at_threshold = rects((0, 0, 10, 10), (0, 0, 10, 7))  # 70/100
    below = rects((0, 0, 10, 10), (0, 0, 10, 6))  # 60/100
    assert occlusion_suppression(at_threshold, frames(7, 3)).tolist() == [True, False]
    assert occlusion_suppression(below, frames(7, 3)).tolist() == [False, False]


def test_in_reverse_the_lower_frame_is_more_recent() -> None:
    masks = rects(SAME, CLOSE)
    assert occlusion_suppression(masks, frames(7, 3), reverse=True).tolist() == [False, True]


def test_occlusion_only_between_overlapping_pairs() -> None:
    masks = rects(SAME, CLOSE, APART)
    assert occlusion_suppression(masks, frames(2, 9, 12)).tolist() == [False, True, False]


def test_occlusion_suppression_can_be_turned_off() -> None:
    config = TrackingConfig(occlusion_iou=0.0)
    assert occlusion_suppression(rects(SAME, SAME), frames(7, 3), config).tolist() == [False] * 2


def test_occlusion_rejects_float_frames() -> None:
    with pytest.raises(InputError, match="last_occluded"):
        occlusion_suppression(rects(SAME, CLOSE), torch.tensor([1.0, 2.0]))


def test_blanked_masks_get_minus_ten_everywhere() -> None:
    logits = logits_of(rects(SAME, CLOSE))
    blanked = blank_masks(logits, torch.tensor([False, True]))
    assert torch.equal(blanked[0], logits[0])
    assert bool((blanked[1] == -10.0).all())


# --- memory write ------------------------------------------------------------------------


def test_each_pixel_keeps_only_its_highest_logit() -> None:
    logits = torch.tensor([[[2.0, 5.0, -3.0]], [[4.0, 1.0, -2.0]]])
    assert keep_highest_per_pixel(logits).tolist() == [[[-10.0, 5.0, -10.0]], [[4.0, -10.0, -2.0]]]


def test_tied_logits_go_to_the_first_object() -> None:
    logits = torch.full((2, 1, 1), 3.0)
    assert keep_highest_per_pixel(logits).flatten().tolist() == [3.0, -10.0]


def _shrunk_area(pixels_taken: int) -> tuple[int, int]:
    """Areas after suppression: a 100-pixel mask of logit 1 and a rival of logit 2 taking
    ``pixels_taken`` of its pixels."""
    first = torch.zeros(SIZE, SIZE, dtype=torch.bool)
    first[:10, :10] = True
    rival = torch.zeros(SIZE, SIZE, dtype=torch.bool)
    rival.view(-1)[torch.nonzero(first.flatten()).flatten()[:pixels_taken]] = True
    logits = torch.stack([logits_of(first), logits_of(rival, inside=2.0)])
    kept = suppress_shrunk_masks(logits) > 0
    return int(kept[0].sum()), int(kept[1].sum())


def test_a_mask_losing_71_percent_is_left_out_of_memory() -> None:
    assert _shrunk_area(71) == (0, 71)


def test_a_mask_losing_69_or_70_percent_is_kept_whole() -> None:
    assert _shrunk_area(69) == (100, 69)
    assert _shrunk_area(70) == (100, 70)


def test_a_suppressed_mask_is_clamped_to_minus_ten() -> None:
    logits = torch.stack([torch.full((4, 4), 1.0), torch.full((4, 4), 2.0)])
    suppressed = suppress_shrunk_masks(logits)
    assert bool((suppressed[0] == -10.0).all())
    assert torch.equal(suppressed[1], logits[1])


def test_a_lone_empty_mask_is_clamped_and_a_lone_mask_kept() -> None:
    assert suppress_shrunk_masks(torch.full((1, 2, 2), -3.0)).flatten().tolist() == [-10.0] * 4
    assert suppress_shrunk_masks(torch.full((1, 2, 2), 3.0)).flatten().tolist() == [3.0] * 4


def test_memory_object_logits_follow_the_area() -> None:
    logits = torch.stack([logits_of(rects(SAME)[0]), torch.full((SIZE, SIZE), -10.0)])
    assert memory_object_logits(logits).tolist() == [10.0, -10.0]
