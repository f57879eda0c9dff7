"""Text tracking through ``Segmenter.track`` on the tiny tracking checkpoint: the frames come
out once each, in order, after the hot-start delay; ids are stable, objects do not overlap,
removal hides an object at once; the banks stay bounded without changing any mask.

The tiny random detector scores every query near 0.5, so the thresholds that admit objects
are lowered (the per-frame rules themselves are tested case by case on constructed masks in
test_association.py, test_lifecycle.py, test_track_overlaps.py, test_frame_output.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch

import sam3lib.video.text_tracking as text_tracking
from helpers.clips import random_clip
from sam3lib import Segmenter, TrackedFrame, TrackingConfig
from sam3lib.video.text_tracking import TextTracker

EAGER = TrackingConfig(
    detection_score_threshold=0.0,
    new_object_score=0.0,
    max_objects=2,
    hotstart_frames=4,
    hotstart_unmatched_frames=2,
    hotstart_duplicate_frames=2,
)


def run(
    segmenter: Segmenter, clip: list[torch.Tensor], config: TrackingConfig
) -> list[TrackedFrame]:
    return list(segmenter.track(clip, "person", config=config))


def test_every_frame_comes_once_in_order_with_stable_objects(
    video_segmenter: Segmenter,
) -> None:
    frames = run(video_segmenter, random_clip(8), EAGER)
    assert [f.index for f in frames] == list(range(8))
    seen = [set(f.object_ids.tolist()) for f in frames]
    assert set().union(*seen), "no object was tracked: the test has no teeth"
    birth: dict[int, float] = {}
    for frame in frames:
        assert frame.object_ids.tolist() == sorted(frame.object_ids.tolist())
        overlap = frame.masks.sum(axis=0) if len(frame) else np.zeros(frame.image_size)
        assert overlap.max(initial=0) <= 1  # overlaps resolved: each pixel has one owner
        for object_id, score in zip(frame.object_ids.tolist(), frame.scores.tolist(), strict=True):
            assert birth.setdefault(object_id, score) == score  # the score at birth, kept


def test_frames_wait_out_the_hot_start_delay(video_segmenter: Segmenter) -> None:
    read: list[int] = []

    def frames() -> Iterator[torch.Tensor]:
        for index, frame in enumerate(random_clip(8)):
            read.append(index)
            yield frame

    reads_when_yielded = [
        len(read) for _ in video_segmenter.track(frames(), "person", config=EAGER)
    ]
    # frame t is reported once t + 4 frames are read (delay 4); the last 3 at the end
    assert reads_when_yielded == [4, 5, 6, 7, 8, 8, 8, 8]


def test_without_hot_start_frames_come_at_once(video_segmenter: Segmenter) -> None:
    read: list[int] = []

    def frames() -> Iterator[torch.Tensor]:
        for index, frame in enumerate(random_clip(4)):
            read.append(index)
            yield frame

    config = TrackingConfig.without_temporal_disambiguation()
    assert [len(read) for _ in video_segmenter.track(frames(), "person", config=config)] == [
        1, 2, 3, 4
    ]  # fmt: skip


def test_a_removed_object_disappears_from_frames_not_yet_reported(
    video_segmenter: Segmenter,
) -> None:
    video = video_segmenter.track(random_clip(8), "person", config=EAGER)
    frames = iter(video)
    first = next(frames)
    while not len(first):
        first = next(frames)
    removed = int(first.object_ids[0])
    video.remove(object_id=removed)
    assert removed not in video.object_ids
    assert all(removed not in f.object_ids for f in frames)
    again = list(video)  # a new pass removes it as soon as it is found
    assert all(removed not in f.object_ids for f in again)


def test_the_banks_stay_bounded_and_trimming_changes_no_mask(
    video_segmenter: Segmenter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Re-conditioning every 2nd frame makes many conditioning frames; after 24 frames each
    object keeps at most 4 of them (plus those of the last 16 frames), with the same masks as
    banks that keep everything."""
    clip = random_clip(24, size=(24, 32))
    config = TrackingConfig(
        detection_score_threshold=0.0,
        nms_iou_threshold=0.0,  # keep every detection: two objects born on frame 0
        new_object_score=0.0,
        max_objects=2,
        recondition_every=2,
        recondition_detection_score=0.0,
        recondition_iou=0.0,
        recondition_object_logit=-100.0,
        hotstart_frames=0,
        hotstart_unmatched_frames=0,
        hotstart_duplicate_frames=0,
    )

    def track() -> tuple[list[TrackedFrame], TextTracker]:
        video = video_segmenter.track(clip, "person", config=config)
        assert isinstance(video.tracker, TextTracker)
        return list(video), video.tracker

    bounded, tracker = track()
    banks = tracker._banks
    assert banks, "no object was tracked: the test has no teeth"
    for bank in banks.values():
        # the last 16 frames, and (memory selection) the 15 latest that pass it
        assert len(bank.tracked) <= 2 * text_tracking.MEMORY_REACH - 1
        old = [t for t in bank.conditioning if 23 - t >= text_tracking.MEMORY_REACH]
        assert len(old) <= 4
    assert max(len(bank.conditioning) for bank in banks.values()) >= 4  # re-conditioned
    monkeypatch.setattr(text_tracking, "MEMORY_REACH", 10**6)
    monkeypatch.setattr(text_tracking, "MAX_CONDITIONING_FRAMES", 10**6)
    unbounded, untrimmed = track()
    assert max(len(b.conditioning) for b in untrimmed._banks.values()) > 4
    for ours, everything in zip(bounded, unbounded, strict=True):
        assert ours.object_ids.tolist() == everything.object_ids.tolist()
        assert np.array_equal(ours.masks, everything.masks)


def test_frames_record_the_cost_of_each_stage(video_segmenter: Segmenter) -> None:
    frame = run(video_segmenter, random_clip(1), EAGER)[0]
    assert set(frame.timings) == {"encode_image", "detect", "track", "memory", "postprocess"}
    assert all(seconds >= 0 for seconds in frame.timings.values())


def test_re_conditioning_one_object_conditions_its_birth_mates(
    video_segmenter: Segmenter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Meta re-prompts a track inside its tracker state (the objects born on one frame): the
    frame becomes a conditioning frame for all of them. Only the first track is re-conditioned
    here; its birth mate's frame 2 is a conditioning frame too."""
    real = text_tracking.reconditioning_candidates

    def first_track_only(index: int, association: object, *args: object) -> dict[int, int]:
        found = real(index, association, *args)  # type: ignore[arg-type]
        return {0: next(iter(found.values()))} if index == 2 and found else {}

    monkeypatch.setattr(text_tracking, "reconditioning_candidates", first_track_only)
    config = TrackingConfig(
        detection_score_threshold=0.0,
        nms_iou_threshold=0.0,  # keep every detection: two objects born on frame 0
        new_object_score=0.0,
        max_objects=2,
        recondition_every=2,
        recondition_detection_score=0.0,
        recondition_iou=0.0,
        recondition_object_logit=-100.0,
        hotstart_frames=0,
        hotstart_unmatched_frames=0,
        hotstart_duplicate_frames=0,
    )
    video = video_segmenter.track(random_clip(3, size=(24, 32)), "person", config=config)
    list(video)
    assert isinstance(video.tracker, TextTracker)
    banks = video.tracker._banks
    lifecycle = video.tracker._lifecycle
    assert lifecycle is not None and len(banks) == 2, "two objects born on frame 0 expected"
    assert all(lifecycle.first_frame(i) == 0 for i in banks)
    assert all(2 in bank.conditioning for bank in banks.values())
