"""Our click tracking against Meta's own ``Sam3TrackerPredictor`` (sam3 0.1.4) on the CPU.

Same random weights (Meta's, loaded through our Meta key map) and the same random tracker
features on 8 frames (``helpers.meta_tracker``); Meta's builder settings, memory selection
on as in its video model (and our :class:`ClickTracker`'s default). Prompts: one click, a
box, a mask, corrections on a tracked frame, a prompt on the last frame tracked in reverse,
two objects clicked on the same frame.

Both store memories in bf16, so a difference of one fp32 rounding can flip a bf16 rounding
and grow frame by frame. Each frame is therefore checked twice: one step from *Meta's* stored
memories (mask logits, object scores and pointers within 1e-4), and our session free-running
(masks by IoU, values more loosely).

Objects prompted on different frames are not compared: there Meta gives an object an empty
conditioning memory on the other objects' prompted frames, we keep each object's own memory
(:mod:`sam3lib.video.click_tracking`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple
from unittest import mock

import pytest
import torch
from torch import Tensor

import sam3lib.video.click_tracking as click_tracking
from helpers.injected_frames import InjectedFeatures
from helpers.meta_tracker import (
    IMAGE_SIZE,
    build_meta_tracker,
    build_our_head,
    meta_bank,
    meta_entry,
    meta_on_cpu,
    meta_propagate,
    meta_state,
)
from helpers.video_reference import random_frame_features
from sam3lib.model.interactive import InteractiveHead
from sam3lib.video.click_tracking import ClickTracker
from sam3lib.video.frames import open_frames
from sam3lib.video.memory_selection import SELECTION_THRESHOLD
from sam3lib.video.tracker_step import StepOutput, TrackerFrameFeatures, tracked_step

NUM_FRAMES = 8
STEP_TOLERANCE = 1e-4  # mask logits are ±10, object scores a few units
FREE_TOLERANCE = 2e-3  # free-running: bf16 roundings of the memories compound
MIN_IOU = 0.99

CLICK = {"points": [[50.0, 30.0]], "labels": [1]}
MASK = torch.zeros(IMAGE_SIZE, IMAGE_SIZE, dtype=torch.bool)
MASK[20:90, 30:100] = True

# A scenario: ("prompt", frame, object id, prompt) and ("propagate", reverse) in order; the
# last propagation is compared. Clicks on one frame accumulate (ours; Meta is given the list).
SCENARIOS: dict[str, list[tuple[Any, ...]]] = {
    "click": [("prompt", 0, 1, CLICK), ("propagate", False)],
    "box": [("prompt", 0, 1, {"box": [20.0, 15.0, 75.0, 85.0]}), ("propagate", False)],
    "mask": [("prompt", 0, 1, {"mask": MASK}), ("propagate", False)],
    "correction": [
        ("prompt", 0, 1, CLICK),
        ("propagate", False),
        ("prompt", 5, 1, {"points": [[70.0, 60.0]], "labels": [0]}),
        ("prompt", 5, 1, {"points": [[40.0, 40.0]], "labels": [1]}),
        ("propagate", False),
    ],
    "mask correction": [  # clicks on a mask-prompted frame refine its ±1024 logits
        ("prompt", 0, 1, {"mask": MASK}),
        ("propagate", False),
        ("prompt", 0, 1, {"points": [[40.0, 30.0]], "labels": [0]}),
        ("propagate", False),
    ],
    "reverse": [("prompt", 7, 1, CLICK), ("propagate", True)],
    "two objects": [
        ("prompt", 0, 1, CLICK),
        ("prompt", 0, 2, {"points": [[60.0, 45.0]], "labels": [1]}),
        ("propagate", False),
    ],
}


@pytest.fixture(scope="module")
def meta_tracker() -> Any:
    return build_meta_tracker(use_memory_selection=True)


@pytest.fixture(scope="module")
def head(meta_tracker: Any) -> InteractiveHead:
    return build_our_head(meta_tracker)


@pytest.fixture(scope="module")
def frames() -> list[TrackerFrameFeatures]:
    return random_frame_features(NUM_FRAMES)


class Run(NamedTuple):
    """Both sides after a scenario: Meta's state and last propagation (frame -> (N, 1, 4G,
    4G) logits, (N, 1) scores); our session and the tracked-frame outputs of its last
    propagation (frame -> one per object, in prompt order)."""

    meta_state: dict[str, Any]
    meta_out: dict[int, tuple[Tensor, Tensor]]
    tracker: ClickTracker
    ours: dict[int, list[StepOutput]]
    reverse: bool


def run_meta(
    meta_tracker: Any, frames: list[TrackerFrameFeatures], steps: list[tuple[Any, ...]]
) -> tuple[dict[str, Any], dict[int, tuple[Tensor, Tensor]]]:
    state = meta_state(meta_tracker, frames)
    clicks: dict[tuple[int, int], dict[str, list[Any]]] = {}
    out: dict[int, tuple[Tensor, Tensor]] = {}
    for step in steps:
        if step[0] == "propagate":
            out = meta_propagate(meta_tracker, state, reverse=step[1])
            continue
        _, frame, object_id, prompt = step
        with meta_on_cpu():
            if "mask" in prompt:
                meta_tracker.add_new_mask(state, frame, object_id, prompt["mask"])
            elif "box" in prompt:
                box = torch.tensor(prompt["box"])
                meta_tracker.add_new_points_or_box(
                    state, frame, object_id, box=box, rel_coordinates=False
                )
            else:
                earlier = clicks.setdefault((frame, object_id), {"points": [], "labels": []})
                earlier["points"] += prompt["points"]
                earlier["labels"] += prompt["labels"]
                meta_tracker.add_new_points_or_box(
                    state, frame, object_id, **earlier, clear_old_points=True,
                    rel_coordinates=False,
                )  # fmt: skip
    return state, out


@contextmanager
def recording_tracked_steps() -> Iterator[dict[int, list[StepOutput]]]:
    """Our session's fp32 tracked-frame outputs (it keeps float16 logits), by frame."""
    recorded: dict[int, list[StepOutput]] = {}
    original = click_tracking.tracked_step

    def recording(*args: Any, **kwargs: Any) -> StepOutput:
        output = original(*args, **kwargs)
        recorded.setdefault(args[3], []).append(output)
        return output

    with mock.patch.object(click_tracking, "tracked_step", recording):
        yield recorded


def run_ours(
    head: InteractiveHead,
    frames: list[TrackerFrameFeatures],
    steps: list[tuple[Any, ...]],
    **options: Any,
) -> tuple[ClickTracker, dict[int, list[StepOutput]]]:
    clip = [torch.zeros(3, IMAGE_SIZE, IMAGE_SIZE, dtype=torch.uint8)] * NUM_FRAMES
    tracker = ClickTracker(InjectedFeatures(head, frames, IMAGE_SIZE), open_frames(clip), **options)
    ours: dict[int, list[StepOutput]] = {}
    for step in steps:
        if step[0] == "propagate":
            with recording_tracked_steps() as ours:
                frames_out = list(tracker.propagate(reverse=step[1]))
            assert len(frames_out) == NUM_FRAMES
            continue
        _, frame, object_id, prompt = step
        tracker.add_prompt(frame, object_id, **prompt)
    return tracker, ours


# Under a second each on 2 quiet cores (Meta's run, our session, the step-wise pass).
PARAMS = list(SCENARIOS)


@pytest.fixture(scope="module", params=PARAMS)
def run(
    request: pytest.FixtureRequest,
    meta_tracker: Any,
    head: InteractiveHead,
    frames: list[TrackerFrameFeatures],
) -> Run:
    steps = SCENARIOS[request.param]
    state, meta_out = run_meta(meta_tracker, frames, steps)
    tracker, ours = run_ours(head, frames, steps)
    return Run(state, meta_out, tracker, ours, reverse=steps[-1][1])


def object_ids(run: Run) -> list[int]:
    return list(run.tracker._objects)  # prompt order = Meta's object index


def conditioning(run: Run, object_id: int, frame: int) -> StepOutput | None:
    return run.tracker._objects[object_id].conditioning.get(frame)


def is_mask_prompt(run: Run, object_id: int, frame: int) -> bool:
    return frame in run.tracker._objects[object_id].masks


def assert_step_matches(
    ours: StepOutput, run: Run, obj_idx: int, frame: int, *, tolerance: float, mask: bool
) -> None:
    logits, scores = run.meta_out[frame]
    theirs = logits[obj_idx : obj_idx + 1]
    if mask:  # Meta's mask-prompt logits are the mask as ±1024, ours mask·20 − 10: same sign
        assert torch.equal(ours.mask_logits > 0, theirs > 0), frame
    else:
        torch.testing.assert_close(ours.mask_logits, theirs, rtol=0, atol=tolerance)
    torch.testing.assert_close(
        ours.object_score_logits, scores[obj_idx : obj_idx + 1], rtol=0, atol=tolerance
    )
    entry, _ = meta_entry(run.meta_state, obj_idx, frame)
    torch.testing.assert_close(ours.pointer, entry.pointer, rtol=0, atol=tolerance)


@torch.no_grad()
def test_each_frame_matches_meta_from_its_memories(
    run: Run, head: InteractiveHead, frames: list[TrackerFrameFeatures]
) -> None:
    """Prompted frames as our session segmented them; every tracked frame from Meta's stored
    memories (its conditioning frames and the frames tracked before it)."""
    assert sorted(run.meta_out) == list(range(NUM_FRAMES))
    for obj_idx, object_id in enumerate(object_ids(run)):
        prompted = sorted(run.tracker._objects[object_id].conditioning)
        for t in range(NUM_FRAMES):
            mask = is_mask_prompt(run, object_id, t)
            output = conditioning(run, object_id, t)
            if output is None:
                before = range(t + 1, NUM_FRAMES) if run.reverse else range(t)
                bank = meta_bank(
                    run.meta_state, obj_idx, prompted + [f for f in before if f not in prompted]
                )
                output = tracked_step(
                    head, frames[t], bank, t, NUM_FRAMES, reverse=run.reverse,
                    selection_threshold=SELECTION_THRESHOLD,
                )  # fmt: skip
            assert_step_matches(output, run, obj_idx, t, tolerance=STEP_TOLERANCE, mask=mask)


def test_session_tracks_as_meta(run: Run) -> None:
    """Our session free-running: every frame's mask within IoU 0.99 of Meta's, logits,
    scores and pointers close."""
    for obj_idx, object_id in enumerate(object_ids(run)):
        for t in range(NUM_FRAMES):
            mask = is_mask_prompt(run, object_id, t)
            output = conditioning(run, object_id, t) or run.ours[t][obj_idx]
            theirs = run.meta_out[t][0][obj_idx : obj_idx + 1] > 0
            mine = output.mask_logits > 0
            union = int((mine | theirs).sum())
            iou = int((mine & theirs).sum()) / union if union else 1.0
            assert iou >= MIN_IOU, (t, object_id, iou)
            assert_step_matches(output, run, obj_idx, t, tolerance=FREE_TOLERANCE, mask=mask)


def test_scenarios_cover_present_and_absent_objects(run: Run) -> None:
    """The seeded weights give masks that are not trivial: the object shows on most frames."""
    scores = torch.cat([scores for _, scores in run.meta_out.values()])
    assert float((scores > 0).float().mean()) >= 0.5
