"""Meta's memory selection on hand-worked cases: which tracked frames count, in which slots,
and which frames a bounded bank must keep for it."""

from __future__ import annotations

import pytest
import torch

from sam3lib.video.memory_bank import select_memory_frames, select_pointer_frames
from sam3lib.video.memory_selection import (
    object_selection_scores,
    reachable_frames,
    selectable_frames,
)


def test_object_scores_are_zero_when_absent_and_rescaled_otherwise() -> None:
    logits = torch.tensor([[-3.0], [0.0], [1.0]])
    ious = torch.tensor([[0.9], [0.9], [0.5]])
    expected = [0.0, 0.0, (2 * torch.sigmoid(torch.tensor(1.0)).item() - 1) * 0.5]
    assert object_selection_scores(logits, ious).tolist() == pytest.approx(expected)


def test_low_scoring_frames_are_skipped_but_the_previous_frame_stays() -> None:
    scores = {1: 0.5, 2: 0.001, 3: 0.2, 4: 0.0}
    assert selectable_frames(5, scores, num_frames=10) == [1, 3, 4]
    assert selectable_frames(5, scores, num_frames=10, threshold=0.3) == [1, 4]


def test_frame_0_is_never_walked_to_and_the_first_frame_selects_nothing() -> None:
    assert selectable_frames(2, {0: 1.0, 1: 1.0}, num_frames=5) == [1]
    assert selectable_frames(0, {}, num_frames=5) == []
    assert selectable_frames(4, {}, num_frames=5, reverse=True) == []


def test_the_walk_stops_after_window_minus_one_frames() -> None:
    scores = dict.fromkeys(range(1, 30), 1.0)
    assert selectable_frames(30, scores, num_frames=40) == list(range(15, 30))
    assert selectable_frames(30, scores, num_frames=4) == [27, 28, 29]
    assert selectable_frames(30, scores, num_frames=None) == list(range(15, 30))


def test_reverse_walks_forward_nearest_last() -> None:
    scores = {6: 1.0, 7: 0.0, 8: 1.0, 9: 1.0}
    assert selectable_frames(5, scores, num_frames=10, reverse=True) == [9, 8, 6]
    with pytest.raises(ValueError, match="length"):
        selectable_frames(5, scores, num_frames=None, reverse=True)


def test_memories_and_pointers_are_placed_by_rank_in_the_selection() -> None:
    selection = [2, 5, 9]  # frame 10's selectable frames, nearest last
    memories = select_memory_frames(10, [0], [1, 2, 3, 5, 9], selection=selection)
    assert [(s.frame, s.temporal_index) for s in memories] == [(0, 6), (2, 2), (5, 1), (9, 0)]
    pointers = select_pointer_frames(10, [0], [1, 2, 3, 5, 9], num_frames=20, selection=selection)
    # the conditioning frame by distance; then ranks 1, 2 — the oldest (2) is left out
    assert [(s.frame, s.offset) for s in pointers] == [(0, 10), (9, 1), (5, 2)]


def test_a_selected_frame_missing_from_the_bank_is_skipped() -> None:
    memories = select_memory_frames(4, [0], [3], selection=[1, 3])
    assert [(s.frame, s.temporal_index) for s in memories] == [(0, 6), (3, 0)]


def test_a_bounded_bank_keeps_the_latest_selectable_frames_however_far() -> None:
    frames = range(100)
    scores = {t: (1.0 if t % 10 == 0 else 0.0) for t in frames}
    kept = reachable_frames(frames, scores, 99, reach=16, threshold=0.01, sides=(-1,))
    assert kept == set(range(83, 100)) | {t for t in range(0, 100, 10) if t >= 0}
    # what frame 100 selects lies in what was kept
    assert set(selectable_frames(100, scores, num_frames=None)) <= kept
    without = reachable_frames(frames, scores, 99, reach=16, threshold=None, sides=(-1,))
    assert without == set(range(83, 100))
