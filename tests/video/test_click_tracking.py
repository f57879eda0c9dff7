"""Click tracking through ``Segmenter.track`` on the tiny tracking checkpoint: directions,
corrections, removal, streams, the bounded bank, and bad input."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
import torch

import sam3lib.video.click_tracking as click_tracking
from helpers.clips import random_clip
from sam3lib import InputError, Segmenter, TrackedFrame
from sam3lib.video.click_tracking import ClickTracker

CLICK = {1: ([[40, 30]], [1])}


def masks_by_frame(frames: list[TrackedFrame]) -> dict[int, np.ndarray]:
    return {frame.index: frame.masks for frame in frames}


def test_iterating_tracks_forward_from_the_prompt_then_backward(
    video_segmenter: Segmenter,
) -> None:
    video = video_segmenter.track(random_clip(7), points=CLICK, frame=3)
    frames = list(video)
    assert [f.index for f in frames] == [3, 4, 5, 6, 2, 1, 0]
    assert all(f.image_size == (60, 80) for f in frames)
    assert frames[0].object_ids.tolist() == [1]
    for frame in frames:
        assert frame.masks.shape == (len(frame.object_ids), 60, 80)
        assert frame.boxes.shape == (len(frame.object_ids), 4)
        assert np.all((frame.scores > 0) & (frame.scores < 1))


def test_a_second_pass_gives_the_same_frames(video_segmenter: Segmenter) -> None:
    video = video_segmenter.track(random_clip(5), points=CLICK, frame=0)
    first, second = masks_by_frame(list(video)), masks_by_frame(list(video))
    assert first.keys() == second.keys() == set(range(5))
    assert all(np.array_equal(first[t], second[t]) for t in first)


def test_a_stream_tracks_as_a_list(video_segmenter: Segmenter) -> None:
    clip = random_clip(6)
    listed = masks_by_frame(list(video_segmenter.track(clip, points=CLICK, frame=0)))
    streamed = masks_by_frame(list(video_segmenter.track(iter(clip), points=CLICK, frame=0)))
    assert listed.keys() == streamed.keys()
    assert all(np.array_equal(listed[t], streamed[t]) for t in listed)


def test_a_correction_becomes_a_conditioning_frame_and_changes_later_frames(
    video_segmenter: Segmenter,
) -> None:
    video = video_segmenter.track(random_clip(6), points=CLICK, frame=0)
    before = masks_by_frame(list(video))
    corrected = video.add_points(frame=2, object_id=1, points=[[10, 10]], labels=[0])
    assert corrected.index == 2
    assert isinstance(video.tracker, ClickTracker)
    assert video.tracker.prompted_frames[1] == (0, 2)
    after = masks_by_frame(list(video))
    assert np.array_equal(after[2], corrected.masks)
    assert not np.array_equal(before[2], after[2])
    assert not all(np.array_equal(before[t], after[t]) for t in (3, 4, 5))


def test_a_correction_feeds_the_frames_earlier_mask_to_the_decoder(
    video_segmenter: Segmenter,
) -> None:
    """Meta's ``prev_sam_mask_logits``: the same clicks on a tracked frame answer differently
    from the same clicks on a frame the object has no mask on."""
    clip = random_clip(4)
    tracked = video_segmenter.track(clip, points=CLICK, frame=0)
    list(tracked)
    corrected = tracked.add_points(frame=2, object_id=1, points=[[10, 10]], labels=[1])
    fresh = video_segmenter.track(clip, points={1: ([[10, 10]], [1])}, frame=2)
    fresh_frame = next(iter(fresh))
    assert fresh_frame.index == 2
    assert not np.array_equal(corrected.masks, fresh_frame.masks)


def test_clicks_on_one_frame_accumulate(video_segmenter: Segmenter) -> None:
    clip = random_clip(2)
    stepwise = video_segmenter.track(clip, points={1: ([[40, 30]], [1])}, frame=0)
    stepwise.add_points(frame=0, object_id=1, points=[[10, 10]], labels=[0])
    at_once = video_segmenter.track(clip, points={1: ([[40, 30], [10, 10]], [1, 0])}, frame=0)
    # stepwise also feeds its first mask back (a correction): compare with that path's own
    # prompt, which must hold both clicks
    assert isinstance(stepwise.tracker, ClickTracker)
    prompt = stepwise.tracker._objects[1].prompts[0]
    assert prompt.points == [[40.0, 30.0], [10.0, 10.0]] and prompt.labels == [1, 0]
    assert next(iter(at_once)).index == 0


def test_objects_are_tracked_from_their_own_prompt_and_removed(
    video_segmenter: Segmenter,
) -> None:
    video = video_segmenter.track(
        random_clip(5), points={1: ([[40, 30]], [1])}, boxes={2: [5, 5, 30, 25]}, frame=1
    )
    assert video.object_ids == (1, 2)
    video.remove(object_id=2)
    assert video.object_ids == (1,)
    assert all(set(f.object_ids.tolist()) <= {1} for f in video)
    with pytest.raises(InputError, match="object_id: no object 2"):
        video.remove(object_id=2)


def test_a_mask_prompt_shows_its_own_mask(video_segmenter: Segmenter) -> None:
    mask = np.zeros((60, 80), dtype=bool)
    mask[10:40, 20:70] = True
    video = video_segmenter.track(random_clip(3), masks={4: mask}, frame=0)
    first = next(iter(video))
    assert first.object_ids.tolist() == [4]
    assert np.array_equal(first.masks[0], mask)
    assert first.boxes[0].tolist() == [20.0, 10.0, 70.0, 40.0]


def test_the_bank_keeps_only_what_later_frames_read(
    video_segmenter: Segmenter, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Over 40 frames the bank holds the frames near the prompt and the last 16, and the
    masks are those of a bank that keeps everything."""
    clip = random_clip(40, size=(24, 32))

    def run() -> tuple[dict[int, np.ndarray], ClickTracker]:
        video = video_segmenter.track(clip, points={1: ([[10, 10]], [1])}, frame=0)
        assert isinstance(video.tracker, ClickTracker)
        return masks_by_frame(list(video)), video.tracker

    trimmed, tracker = run()
    kept_frames = sorted(tracker._objects[1].bank.tracked)
    reach = click_tracking.MEMORY_REACH
    assert all(t <= reach or t >= 39 - reach for t in kept_frames)
    assert len(kept_frames) < 39
    monkeypatch.setattr(click_tracking, "MEMORY_REACH", 10**6)
    everything, untrimmed = run()
    assert len(untrimmed._objects[1].bank.tracked) == 39
    assert all(np.array_equal(trimmed[t], everything[t]) for t in range(40))


def test_a_stream_keeps_no_logits_of_past_frames(video_segmenter: Segmenter) -> None:
    video = video_segmenter.track(iter(random_clip(5)), points=CLICK, frame=0)
    list(video)
    assert isinstance(video.tracker, ClickTracker)
    assert list(video.tracker._objects[1].logits) == [4]


# --- bad input -------------------------------------------------------------------------------


def frames_of(count: int) -> Iterator[torch.Tensor]:
    yield from random_clip(count)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"points": CLICK, "frame": 9}, r"frame: 9 is not a frame of the video; valid: 0\.\.3"),
        ({"points": CLICK, "frame": -1}, "frame: expected a frame index"),
        ({"points": {1: ([[500, 30]], [1])}}, "points"),
        ({"points": {-2: ([[40, 30]], [1])}}, "object_id: expected an int >= 0"),
        ({"points": {}}, "points: expected a non-empty dict"),
        ({"masks": {1: np.zeros((5, 5), dtype=bool)}}, r"mask: expected the frame's size"),
        ({}, "prompt: give a text prompt"),
        ({"prompt": "person", "points": CLICK}, "points: give a text prompt or clicks"),
    ],
)
def test_bad_prompts_are_refused(
    video_segmenter: Segmenter, arguments: dict[str, object], message: str
) -> None:
    with pytest.raises(InputError, match=message):
        video_segmenter.track(random_clip(4), **arguments)  # type: ignore[arg-type]


def test_bad_calls_on_a_video_are_refused(video_segmenter: Segmenter) -> None:
    video = video_segmenter.track(random_clip(4), points=CLICK, frame=0)
    with pytest.raises(InputError, match="frame: 4 is not a frame"):
        video.add_points(frame=4, object_id=1, points=[[1, 1]])
    with pytest.raises(InputError, match="object_id: no object 7"):
        video.remove(object_id=7)
    text_video = video_segmenter.track(random_clip(2), "person")
    with pytest.raises(InputError, match="add_points: clicks, boxes and masks prompt"):
        text_video.add_points(frame=0, object_id=1, points=[[1, 1]])


def test_a_stream_is_read_forward_only(video_segmenter: Segmenter) -> None:
    video = video_segmenter.track(frames_of(6), points=CLICK, frame=0)
    with pytest.raises(InputError, match="frame: a stream is read once"):
        video.add_points(frame=3, object_id=1, points=[[1, 1]])
    with pytest.raises(InputError, match="reverse: a stream is read once"):
        next(video.propagate(reverse=True))
    with pytest.raises(InputError, match="frame: a stream is read once"):
        video_segmenter.track(frames_of(6), points=CLICK, frame=2)


def test_unreadable_and_empty_videos_are_refused(video_segmenter: Segmenter, tmp_path) -> None:
    bad = tmp_path / "clip.mp4"
    bad.write_bytes(b"not a video at all")
    with pytest.raises(InputError, match="source"):
        list(video_segmenter.track(bad, "person"))
    with pytest.raises(InputError, match="source: the video has no frames"):
        list(video_segmenter.track(iter([]), "person"))
    with pytest.raises(InputError, match="frame"):
        video_segmenter.track(iter([]), points=CLICK, frame=0)


def test_a_frame_of_another_size_is_refused(video_segmenter: Segmenter) -> None:
    clip = random_clip(3) + random_clip(1, size=(30, 40))
    with pytest.raises(InputError, match="frame 3 is 30x40"):
        list(video_segmenter.track(clip, points=CLICK, frame=0))


def test_a_box_and_clicks_for_one_object_are_both_kept(video_segmenter: Segmenter) -> None:
    video = video_segmenter.track(
        random_clip(2), points={1: ([[20, 20]], [0])}, boxes={1: [5, 5, 60, 50]}, frame=0
    )
    assert isinstance(video.tracker, ClickTracker)
    prompt = video.tracker._objects[1].prompts[0]
    assert prompt.box == [5, 5, 60, 50]
    assert prompt.points == [[20.0, 20.0]] and prompt.labels == [0]


def test_offloaded_state_lives_on_the_cpu_and_tracks_the_same(
    video_segmenter: Segmenter,
) -> None:
    clip = random_clip(4)
    plain = masks_by_frame(list(video_segmenter.track(clip, points=CLICK, frame=0)))
    video = video_segmenter.track(clip, points=CLICK, frame=0, offload_state=True)
    offloaded = masks_by_frame(list(video))
    assert isinstance(video.tracker, ClickTracker)
    bank = video.tracker._objects[1].bank
    assert bank.device == torch.device("cpu")
    assert all(e.memory.device.type == "cpu" for e in bank.tracked.values())
    assert all(np.array_equal(plain[t], offloaded[t]) for t in plain)
    with pytest.raises(InputError, match="offload_state: expected True or False"):
        video_segmenter.track(clip, points=CLICK, offload_state="yes")  # type: ignore[arg-type]
