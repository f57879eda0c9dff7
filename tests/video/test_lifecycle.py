"""Object numbering, hot-start removal, keep-alive hiding and occlusion book-keeping, frame by
frame on hand-made 16×16 masks."""

from __future__ import annotations

import pytest
import torch

from helpers.masks import rects
from sam3lib.errors import InputError
from sam3lib.video.association import associate
from sam3lib.video.lifecycle import FrameUpdate, TrackLifecycle
from sam3lib.video.tracking_config import TrackingConfig

EMPTY = ()
LEFT = (0, 0, 6, 6)
RIGHT = (8, 8, 14, 14)
LEFT_WIDE = (0, 0, 6, 7)  # IoU 36/42 with LEFT


def step(
    lifecycle: TrackLifecycle,
    frame: int,
    tracks: tuple[tuple[int, ...], ...],
    detections: tuple[tuple[int, ...], ...] = (),
    detection_score: float = 0.9,
    *,
    reverse: bool = False,
) -> FrameUpdate:
    """One frame: the tracked objects' masks (in ``lifecycle.object_ids`` order) and the
    detections, all scored ``detection_score``."""
    track_masks = rects(*tracks)
    detection_scores = torch.full((len(detections),), detection_score)
    found = associate(track_masks, rects(*detections), detection_scores, lifecycle.config)
    return lifecycle.step(
        frame, found, track_masks, found.new_detections, detection_scores, reverse=reverse
    )


def born(
    frame: int, *boxes: tuple[int, ...], config: TrackingConfig | None = None
) -> TrackLifecycle:
    """A lifecycle whose first objects are born on ``frame`` from ``boxes``."""
    lifecycle = TrackLifecycle(config)
    step(lifecycle, frame, (), boxes)
    return lifecycle


# --- numbering ---------------------------------------------------------------------------


def test_new_objects_are_numbered_in_detection_order_from_zero() -> None:
    lifecycle = TrackLifecycle()
    update = step(lifecycle, 0, (), (LEFT, RIGHT), detection_score=0.75)
    assert update.new_object_ids == (0, 1)
    assert lifecycle.object_ids == (0, 1)
    assert lifecycle.first_frame(1) == 0
    assert lifecycle.birth_score(1) == 0.75
    update = step(lifecycle, 1, (LEFT, RIGHT), (LEFT, RIGHT, (0, 10, 3, 16)))
    assert update.track_ids == (0, 1)
    assert update.new_object_ids == (2,)
    assert lifecycle.object_ids == (0, 1, 2)


def test_removed_ids_are_never_reused() -> None:
    config = TrackingConfig(hotstart_unmatched_frames=1)
    lifecycle = born(0, LEFT, RIGHT, config=config)
    update = step(lifecycle, 1, (LEFT, RIGHT), (LEFT,))  # object 1 unmatched once
    assert update.removed_ids == {1}
    assert lifecycle.object_ids == (0,)
    assert step(lifecycle, 2, (LEFT,), (LEFT, RIGHT)).new_object_ids == (2,)
    assert lifecycle.object_ids == (0, 2)
    assert lifecycle.removed_ids == {1}


def test_removed_objects_are_forgotten_once_no_waiting_frame_can_show_them() -> None:
    """A long stream's book-keeping stays bounded: an object removed on frame r is listed
    (to hide it in frames still waiting) until frame r + hotstart_frames, then forgotten."""
    config = TrackingConfig(
        hotstart_frames=3, hotstart_unmatched_frames=1, hotstart_duplicate_frames=1
    )
    lifecycle = TrackLifecycle(config)
    for frame in range(0, 40, 2):  # a new object on every even frame, unmatched on the odd
        step(lifecycle, frame, tuple(LEFT for _ in lifecycle.object_ids), (LEFT,))
        update = step(lifecycle, frame + 1, tuple(LEFT for _ in lifecycle.object_ids))
        assert update.removed_ids, "each newborn goes: the test has no teeth"
    assert lifecycle.object_ids == ()
    assert lifecycle.removed_ids == {18, 19}  # removed on frames 37 and 39: within 3 frames
    assert step(lifecycle, 43, ()).removed_ids == set()
    assert lifecycle.removed_ids == set()
    assert step(lifecycle, 44, (), (LEFT,)).new_object_ids == (20,)  # ids are still not reused


def test_the_birth_score_stays_the_reported_score() -> None:
    lifecycle = born(0, LEFT)
    step(lifecycle, 1, (LEFT,), (LEFT,), detection_score=0.6)
    assert lifecycle.birth_score(0) == pytest.approx(0.9)


# --- hot start: unmatched ----------------------------------------------------------------


def test_an_object_unmatched_on_eight_early_frames_is_removed_on_the_eighth() -> None:
    lifecycle = born(0, LEFT)
    for frame in range(1, 8):
        assert step(lifecycle, frame, (LEFT,)).removed_ids == set()
    update = step(lifecycle, 8, (LEFT,))
    assert update.removed_ids == {0}
    assert lifecycle.object_ids == ()
    assert lifecycle.removed_ids == {0}


def test_unmatched_frames_need_not_be_consecutive() -> None:
    lifecycle = born(0, LEFT)
    for frame in range(1, 14):
        unmatched = frame % 2 == 0  # frames 2, 4, ..., 12: six unmatched frames
        step(lifecycle, frame, (LEFT,), () if unmatched else (LEFT,))
    assert lifecycle.object_ids == (0,)
    assert step(lifecycle, 14, (LEFT,)).removed_ids == set()  # the seventh
    assert step(lifecycle, 15, (LEFT,)).removed_ids == set()  # the eighth: too old now
    assert lifecycle.object_ids == (0,)


def test_the_eighth_unmatched_frame_removes_up_to_frame_14_not_on_frame_15() -> None:
    for last_frame, removed in ((14, {0}), (15, set())):
        lifecycle = born(0, LEFT)
        for frame in range(1, last_frame):
            unmatched = frame >= last_frame - 7  # seven unmatched frames just before
            step(lifecycle, frame, (LEFT,), () if unmatched else (LEFT,))
        assert lifecycle.object_ids == (0,)
        assert step(lifecycle, last_frame, (LEFT,)).removed_ids == removed


def test_an_object_born_later_has_its_own_hotstart_window() -> None:
    lifecycle = born(20, LEFT)
    for frame in range(21, 28):
        step(lifecycle, frame, (LEFT,))
    assert step(lifecycle, 28, (LEFT,)).removed_ids == {0}


def test_frames_with_an_empty_mask_do_not_count_as_unmatched() -> None:
    lifecycle = born(0, LEFT)
    for frame in range(1, 15):
        assert step(lifecycle, frame, (EMPTY,)).removed_ids == set()
    assert lifecycle.object_ids == (0,)


def test_a_poorly_matched_object_counts_as_unmatched() -> None:
    lifecycle = born(0, LEFT)
    half_overlap = (0, 0, 6, 2)  # IoU 12/36: touches, does not match
    for frame in range(1, 8):
        step(lifecycle, frame, (LEFT,), (half_overlap,))
    assert step(lifecycle, 8, (LEFT,), (half_overlap,)).removed_ids == {0}


def test_hotstart_in_reverse_counts_towards_earlier_frames() -> None:
    lifecycle = TrackLifecycle()
    step(lifecycle, 100, (), (LEFT,), reverse=True)
    for frame in range(99, 92, -1):
        step(lifecycle, frame, (LEFT,), reverse=True)
    assert step(lifecycle, 92, (LEFT,), reverse=True).removed_ids == {0}


def test_no_hotstart_never_removes() -> None:
    lifecycle = born(0, LEFT, config=TrackingConfig.without_temporal_disambiguation())
    for frame in range(1, 30):
        assert step(lifecycle, frame, (LEFT,)).removed_ids == set()


# --- hot start: duplicates ---------------------------------------------------------------


def test_a_younger_object_sharing_a_detection_with_an_older_one_eight_times_is_removed() -> None:
    lifecycle = born(0, LEFT)
    step(lifecycle, 1, (LEFT,), (LEFT, RIGHT))
    step(lifecycle, 2, (LEFT, RIGHT), (LEFT, RIGHT))  # object 1 born on frame 1
    for frame in range(3, 10):  # both objects on one detection, seven frames
        assert step(lifecycle, frame, (LEFT, LEFT_WIDE), (LEFT,)).removed_ids == set()
    update = step(lifecycle, 10, (LEFT, LEFT_WIDE), (LEFT,))
    assert update.removed_ids == {1}
    assert lifecycle.object_ids == (0,)


def test_of_two_duplicates_born_together_the_first_is_kept() -> None:
    config = TrackingConfig(hotstart_duplicate_frames=2)
    lifecycle = born(0, LEFT, RIGHT, config=config)
    step(lifecycle, 1, (LEFT, LEFT_WIDE), (LEFT,))
    assert step(lifecycle, 2, (LEFT, LEFT_WIDE), (LEFT,)).removed_ids == {1}


def test_duplicate_frames_count_per_shared_detection() -> None:
    # Two detections each touching both objects: two duplicate frames at once.
    config = TrackingConfig(hotstart_duplicate_frames=2)
    lifecycle = born(0, LEFT, RIGHT, config=config)
    update = step(lifecycle, 1, (LEFT, LEFT_WIDE), (LEFT, (0, 0, 6, 5)))
    assert update.removed_ids == {1}


def test_duplicates_are_not_removed_once_old() -> None:
    config = TrackingConfig(
        hotstart_frames=4, hotstart_unmatched_frames=4, hotstart_duplicate_frames=2
    )
    lifecycle = born(0, LEFT, RIGHT, config=config)
    for frame in range(1, 4):
        step(lifecycle, frame, (LEFT, RIGHT), (LEFT, RIGHT))
    step(lifecycle, 4, (LEFT, LEFT_WIDE), (LEFT,))
    assert step(lifecycle, 5, (LEFT, LEFT_WIDE), (LEFT,)).removed_ids == set()


# --- keep-alive --------------------------------------------------------------------------


def test_keep_alive_hides_nothing_by_default() -> None:
    lifecycle = born(0, LEFT, config=TrackingConfig(hotstart_frames=0))
    for frame in range(1, 60):
        assert step(lifecycle, frame, (LEFT,)).hidden_ids == set()


def test_keep_alive_hides_an_object_unmatched_too_long_while_tracking_it() -> None:
    config = TrackingConfig(
        hotstart_frames=0,
        suppress_unmatched_only_within_hotstart=False,
        keep_alive_initial=2,
        keep_alive_max=3,
    )
    lifecycle = born(0, LEFT, config=config)
    assert step(lifecycle, 1, (LEFT,)).hidden_ids == set()  # 2 -> 1
    assert step(lifecycle, 2, (LEFT,)).hidden_ids == {0}  # 1 -> 0
    assert step(lifecycle, 3, (LEFT,)).hidden_ids == {0}  # 0 -> -1 (the floor)
    assert step(lifecycle, 4, (LEFT,), (LEFT,)).hidden_ids == {0}  # matched: -1 -> 0
    assert step(lifecycle, 5, (LEFT,), (LEFT,)).hidden_ids == set()  # 0 -> 1
    assert lifecycle.object_ids == (0,)


# --- occlusion ---------------------------------------------------------------------------


def test_the_more_recently_occluded_of_two_overlapping_objects_is_blanked() -> None:
    lifecycle = born(0, LEFT, RIGHT)
    step(lifecycle, 1, (EMPTY, RIGHT), (RIGHT,))  # object 0 occluded on frame 1
    step(lifecycle, 2, (LEFT, EMPTY), (LEFT,))  # object 1 on frame 2
    update = step(lifecycle, 3, (LEFT, LEFT_WIDE), (LEFT,))
    assert update.blanked.tolist() == [False, True]
    # Blanking counts as an occlusion: object 1 stays the more recent one.
    assert step(lifecycle, 4, (LEFT, LEFT_WIDE), (LEFT,)).blanked.tolist() == [False, True]


def test_an_object_never_occluded_protects_neither_object() -> None:
    lifecycle = born(0, LEFT, RIGHT)
    step(lifecycle, 1, (LEFT, EMPTY), (LEFT,))  # only object 1 was ever occluded
    update = step(lifecycle, 2, (LEFT, LEFT_WIDE), (LEFT,))
    assert update.blanked.tolist() == [False, False]


def test_occlusion_needs_an_iou_of_0_7() -> None:
    lifecycle = born(0, LEFT, RIGHT)
    step(lifecycle, 1, (EMPTY, RIGHT), (RIGHT,))
    step(lifecycle, 2, (LEFT, EMPTY), (LEFT,))
    low_overlap = (0, 2, 6, 8)  # IoU 24/48
    assert step(lifecycle, 3, (LEFT, low_overlap), (LEFT,)).blanked.tolist() == [False, False]


def test_an_object_removed_on_its_first_tracked_frame_yields_to_an_occluded_one() -> None:
    # Removal after one unmatched frame, for objects born on one of the last two frames.
    config = TrackingConfig(
        hotstart_frames=2, hotstart_unmatched_frames=1, hotstart_duplicate_frames=1
    )
    lifecycle = born(0, LEFT, config=config)
    step(lifecycle, 1, (EMPTY,), (RIGHT,))  # object 0 occluded; object 1 born on RIGHT
    # No detection: object 0 is too old to be removed, object 1 is removed on its first
    # tracked frame, and it overlaps object 0.
    update = step(lifecycle, 2, (LEFT, LEFT_WIDE))
    assert update.removed_ids == {1}
    assert update.blanked.tolist() == [False, True]


# --- checks ------------------------------------------------------------------------------


def test_step_rejects_an_association_of_other_tracks() -> None:
    lifecycle = born(0, LEFT)
    found = associate(rects(), rects(), torch.zeros(0))
    with pytest.raises(InputError, match="tracked objects"):
        lifecycle.step(1, found, rects(), found.new_detections, torch.zeros(0))
