"""A frame's reported objects and the hot-start delay, on hand-made masks."""

from __future__ import annotations

import pytest
import torch

from helpers.masks import SIZE, rects
from sam3lib.errors import InputError
from sam3lib.video.frame_output import DelayedFrames, frame_objects, resolve_output_overlaps


def values(*numbers: float) -> torch.Tensor:
    return torch.tensor(numbers, dtype=torch.float32)


# --- overlaps ----------------------------------------------------------------------------


def test_an_overlap_goes_to_the_higher_score() -> None:
    masks = rects((0, 0, 8, 8), (4, 4, 12, 12))
    resolved = resolve_output_overlaps(masks, values(0.6, 0.9))
    assert not bool((resolved[0] & resolved[1]).any())
    assert int(resolved[0].sum()) == 64 - 16
    assert torch.equal(resolved[1], masks[1])
    flipped = resolve_output_overlaps(masks, values(0.9, 0.6))
    assert torch.equal(flipped[0], masks[0])


def test_tied_scores_give_the_overlap_to_the_first_object() -> None:
    masks = rects((0, 0, 8, 8), (4, 4, 12, 12))
    resolved = resolve_output_overlaps(masks, values(0.7, 0.7))
    assert torch.equal(resolved[0], masks[0])


def test_a_score_of_zero_keeps_no_pixel_unless_alone() -> None:
    masks = rects((0, 0, 8, 8), (10, 10, 12, 12))
    assert resolve_output_overlaps(masks, values(0.0, 0.5))[0].sum() == 0
    assert torch.equal(resolve_output_overlaps(masks[:1], values(0.0)), masks[:1])


# --- the report --------------------------------------------------------------------------


def test_the_report_is_sorted_by_id_with_birth_scores() -> None:
    masks = rects((0, 0, 4, 4), (8, 8, 12, 12))
    out = frame_objects([9, 2], masks, values(0.75, 0.875), values(0.5, 0.5))
    assert out.object_ids.tolist() == [2, 9]
    assert out.scores.tolist() == [0.875, 0.75]
    assert out.boxes_xyxy.tolist() == [[8.0, 8.0, 12.0, 12.0], [0.0, 0.0, 4.0, 4.0]]


def test_empty_and_hidden_objects_are_not_reported() -> None:
    masks = rects((0, 0, 4, 4), (), (8, 8, 12, 12))
    out = frame_objects([0, 1, 2], masks, values(0.9, 0.9, 0.9), values(0.9, 0.9, 0.9), {2})
    assert out.object_ids.tolist() == [0]
    assert out.masks.shape == (1, SIZE, SIZE)


def test_boxes_are_taken_before_overlaps_are_resolved() -> None:
    masks = rects((0, 0, 8, 8), (2, 2, 6, 6))  # object 1 inside object 0
    out = frame_objects([0, 1], masks, values(0.9, 0.8), values(0.95, 0.6))
    assert out.boxes_xyxy[1].tolist() == [2.0, 2.0, 6.0, 6.0]
    assert int(out.masks[1].sum()) == 0  # reported, with an empty mask


def test_a_report_without_objects() -> None:
    out = frame_objects([0], rects(()), values(0.9), values(0.9))
    assert out.object_ids.shape == (0,)
    assert out.boxes_xyxy.shape == (0, 4)
    assert out.masks.shape == (0, SIZE, SIZE)


def test_the_report_checks_lengths() -> None:
    with pytest.raises(InputError, match="object_ids"):
        frame_objects([0, 1], rects((0, 0, 2, 2)), values(0.9), values(0.9))


# --- delay -------------------------------------------------------------------------------


def test_frames_come_out_fourteen_frames_late_and_all_at_the_end() -> None:
    delayed = DelayedFrames[int](15)
    released = [delayed.push(frame, last=frame == 39) for frame in range(40)]
    assert released[:14] == [[]] * 14
    assert released[14] == [0]
    assert released[38] == [24]
    assert released[39] == list(range(25, 40))


def test_a_short_video_comes_out_at_its_end() -> None:
    delayed = DelayedFrames[int](15)
    assert [delayed.push(frame, last=frame == 4) for frame in range(5)][-1] == [0, 1, 2, 3, 4]


def test_no_delay_releases_each_frame_at_once() -> None:
    delayed = DelayedFrames[str](0)
    assert delayed.push("a") == ["a"]
    assert delayed.push("b", last=True) == ["b"]
