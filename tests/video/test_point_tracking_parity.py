"""Our tracker step against transformers' ``Sam3TrackerVideoModel`` on the same weights.

Full width (256, 64-channel memory), 112 px input (8² grid), 8 frames of random tracker
features injected into both, one click (or a box) on frame 0, then tracking.

Where the two references differ, we follow Meta, and the reference is aligned to Meta for
the comparison (``SAM3_TRACKER_FACTS.md`` §5 #3): transformers resizes a mask to the
memory encoder's 16·G input *before* binarising (prompted frames) or the sigmoid (tracked
frames), Meta after. ``meta_memory_order`` patches that one function of the reference;
:func:`test_resize_order_changes_only_the_memory_write` is the control that shows it is the
whole difference (the frame's masks are equal, its memory is not).

Both store memories in bf16, so a difference of one fp32 rounding can flip a bf16 rounding
and grow frame by frame. Each tracked frame is therefore checked from the *reference's*
stored memories (one step, to 1e-4), and the free-running loop more loosely.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import torch
from torch import Tensor

from helpers.injected_frames import InjectedFeatures
from helpers.video_reference import (
    GRID,
    IMAGE_SIZE,
    ReferenceRun,
    build_our_head,
    build_video_reference,
    meta_memory_order,
    random_frame_features,
    reference_bank,
    reference_entry,
    reference_track,
)
from sam3lib.interactive.predictor import resized_masks
from sam3lib.model.interactive import InteractiveHead
from sam3lib.video.click_tracking import ClickTracker
from sam3lib.video.frames import open_frames
from sam3lib.video.memory_bank import MemoryBank
from sam3lib.video.tracker_step import (
    StepOutput,
    TrackerFrameFeatures,
    encode_memory,
    mask_prompt_step,
    prompted_step,
    tracked_step,
    write_memory,
)

NUM_FRAMES = 8
TOLERANCE = 1e-4  # mask logits are ±30, object scores a few units
BF16_RELATIVE = 2.0**-8  # one bf16 rounding: a stored memory is within this of ours ...
MEMORY_ABSOLUTE = 2e-4  # ... plus fp32 agreement on memory values of up to ±10
PROMPTS = {  # (P, 2) xy px of the 112² input and labels; no padding point
    "click": (torch.tensor([[50.0, 30.0]]), torch.tensor([1])),
    "box": (torch.tensor([[20.0, 15.0], [75.0, 85.0]]), torch.tensor([2, 3])),
}
PADDING = (torch.zeros(1, 2), torch.tensor([-1]))


@pytest.fixture(scope="module")
def reference() -> Any:
    return build_video_reference()


@pytest.fixture(scope="module")
def head(reference: Any) -> InteractiveHead:
    return build_our_head(reference)


@pytest.fixture(scope="module")
def frames() -> list[TrackerFrameFeatures]:
    return random_frame_features(NUM_FRAMES)


@pytest.fixture(scope="module", params=sorted(PROMPTS))
def prompt(request: pytest.FixtureRequest) -> tuple[Tensor, Tensor]:
    result: tuple[Tensor, Tensor] = PROMPTS[request.param]
    return result


@pytest.fixture(scope="module")
def meta_run(reference: Any, frames: list[TrackerFrameFeatures], prompt: Any) -> ReferenceRun:
    """The reference with Meta's memory-encoder order."""
    with meta_memory_order(reference):
        return reference_track(reference, frames, *prompt)


def our_prompt(prompt: tuple[Tensor, Tensor]) -> tuple[Tensor, Tensor]:
    """(1, P + 1, 2) and (1, P + 1): the prompt with Meta's padding point, as our head takes it
    (the reference's prompt encoder appends it itself)."""
    coords, labels = prompt
    return (
        torch.cat((coords, PADDING[0])).unsqueeze(0),
        torch.cat((labels, PADDING[1])).unsqueeze(0),
    )


def assert_step_matches(ours: StepOutput, run: ReferenceRun, frame: int) -> None:
    torch.testing.assert_close(ours.mask_logits, run.mask_logits[frame], rtol=0, atol=TOLERANCE)
    torch.testing.assert_close(
        ours.object_score_logits.flatten(), run.object_score_logits[frame], rtol=0, atol=TOLERANCE
    )
    entry, _ = reference_entry(run.session, frame)
    torch.testing.assert_close(ours.pointer, entry.pointer, rtol=0, atol=TOLERANCE)


def assert_memory_matches(ours: Tensor, run: ReferenceRun, frame: int) -> None:
    """Our fp32 memory against the reference's bf16 one: within one bf16 rounding."""
    stored = reference_entry(run.session, frame)[0].memory.float()
    bound = BF16_RELATIVE * stored.abs() + MEMORY_ABSOLUTE
    assert bool(((ours - stored).abs() <= bound).all()), (ours - stored).abs().max()


def our_track(
    head: InteractiveHead, frames: list[TrackerFrameFeatures], prompt: tuple[Tensor, Tensor]
) -> Iterator[StepOutput]:
    """The prompted frame, then every other frame tracked from our own bank."""
    features = frames[0]
    out = prompted_step(head, features, *our_prompt(prompt))
    memory = write_memory(head, features, out, prompted=True)
    bank = MemoryBank().with_frame(0, memory, conditioning=True)
    yield out
    for t in range(1, len(frames)):
        out = tracked_step(head, frames[t], bank, t, len(frames))
        bank = bank.with_frame(
            t, write_memory(head, frames[t], out, prompted=False), conditioning=False
        )
        yield out


@torch.no_grad()
def test_prompted_frame_matches_reference(
    head: InteractiveHead, frames: list[TrackerFrameFeatures], prompt: Any, meta_run: ReferenceRun
) -> None:
    out = prompted_step(head, frames[0], *our_prompt(prompt))
    assert_step_matches(out, meta_run, 0)
    assert_memory_matches(encode_memory(head, frames[0], out, prompted=True), meta_run, 0)


@torch.no_grad()
def test_each_tracked_frame_matches_reference_from_its_memories(
    head: InteractiveHead, frames: list[TrackerFrameFeatures], meta_run: ReferenceRun
) -> None:
    """Frame t from the reference's stored frames 0..t−1: 7 memories and up to 7 pointers.
    The run has frames with the object present and absent (−1024 masks, no-object pointer,
    occlusion embedding in the memory)."""
    scores = torch.cat(meta_run.object_score_logits)
    assert bool((scores > 0).any()) and bool((scores <= 0).any()), scores
    for t in range(1, NUM_FRAMES):
        bank = reference_bank(meta_run.session, range(t))
        out = tracked_step(head, frames[t], bank, t, NUM_FRAMES)
        assert_step_matches(out, meta_run, t)
        assert_memory_matches(encode_memory(head, frames[t], out, prompted=False), meta_run, t)


@torch.no_grad()
def test_free_running_tracking_stays_with_reference(
    head: InteractiveHead, frames: list[TrackerFrameFeatures], prompt: Any, meta_run: ReferenceRun
) -> None:
    """Our own bank all the way: bf16 roundings compound, so masks are compared by IoU."""
    for t, out in enumerate(our_track(head, frames, prompt)):
        ours, theirs = out.mask_logits > 0, meta_run.mask_logits[t] > 0
        union = (ours | theirs).sum()
        iou = (ours & theirs).sum() / union if union else torch.tensor(1.0)  # both empty
        assert iou >= 0.99, (t, iou)
        score = meta_run.object_score_logits[t]
        torch.testing.assert_close(out.object_score_logits.flatten(), score, rtol=0, atol=0.05)


@torch.no_grad()
def test_resize_order_changes_only_the_memory_write(
    reference: Any, head: InteractiveHead, frames: list[TrackerFrameFeatures]
) -> None:
    """Control for facts §5 #3: transformers' own order gives the same clicked-frame masks,
    score and pointer, but a memory that is not ours (nor Meta's) beyond bf16 rounding."""
    coords, labels = PROMPTS["click"]
    own_order = reference_track(reference, frames[:2], coords, labels)
    with meta_memory_order(reference):
        aligned = reference_track(reference, frames[:2], coords, labels)
    torch.testing.assert_close(own_order.mask_logits[0], aligned.mask_logits[0], rtol=0, atol=0)
    own_pointer = reference_entry(own_order.session, 0)[0].pointer
    torch.testing.assert_close(own_pointer, reference_entry(aligned.session, 0)[0].pointer)
    out = prompted_step(head, frames[0], *our_prompt(PROMPTS["click"]))
    ours = encode_memory(head, frames[0], out, prompted=True)
    assert ours.shape[-2:] == (GRID, GRID)
    assert_memory_matches(ours, aligned, 0)
    with pytest.raises(AssertionError):
        assert_memory_matches(ours, own_order, 0)


@torch.no_grad()
def test_mask_prompt_pointer_is_token_0_as_meta(
    reference: Any, head: InteractiveHead, frames: list[TrackerFrameFeatures]
) -> None:
    """Meta's mask-prompt pointer: the decoder on the raw feature, the mask through
    ``mask_downsample`` as mask prompt, token 0, the no-object pointer where that decoder
    pass scores the object absent. transformers' decoder forced to single-mask output gives
    the same (its own mask path takes the best multimask token, facts §5 #4). Over the 8
    frames the decoder scores the object both present and absent."""
    mask = torch.zeros(1, 1, 16 * GRID, 16 * GRID)
    mask[..., 20:90, 30:100] = 1.0
    decoder_scores = []
    for frame in frames:
        ours = mask_prompt_step(head, frame, mask)
        theirs = reference._single_frame_forward(
            input_masks=reference.mask_downsample(mask),
            image_embeddings=[frame.high_res_x4, frame.high_res_x2, frame.features],
            multimask_output=False,
        )
        torch.testing.assert_close(
            ours.pointer, theirs.object_pointer.reshape(1, -1), rtol=0, atol=TOLERANCE
        )
        assert ours.object_score_logits.item() == 10.0
        decoder_scores.append(theirs.object_score_logits.item())
    assert max(decoder_scores) > 0 >= min(decoder_scores), decoder_scores


def session_prompt(prompt: tuple[Tensor, Tensor]) -> dict[str, Any]:
    """The prompt as :meth:`ClickTracker.add_prompt` takes it (video pixels = model pixels)."""
    coords, labels = prompt
    if labels.tolist() == [2, 3]:
        return {"box": coords.flatten().tolist()}
    return {"points": coords.tolist(), "labels": labels.tolist()}


@torch.no_grad()
def test_session_tracks_as_the_reference(
    head: InteractiveHead, frames: list[TrackerFrameFeatures], prompt: Any, meta_run: ReferenceRun
) -> None:
    """The click-tracking session end to end (prompt, bank, selection, trimming, masks at
    video size) against the reference run: masks by IoU, σ(score) within 0.02."""
    clip = [torch.zeros(3, IMAGE_SIZE, IMAGE_SIZE, dtype=torch.uint8)] * NUM_FRAMES
    # transformers has no memory selection (facts §5 #8): off here, the control is below
    tracker = ClickTracker(
        InjectedFeatures(head, frames, IMAGE_SIZE), open_frames(clip), selection_threshold=None
    )
    first = tracker.add_prompt(0, 1, **session_prompt(prompt))
    tracked = list(tracker.propagate())
    assert [f.index for f in tracked] == list(range(NUM_FRAMES))
    assert tracked[0].object_ids.tolist() == first.object_ids.tolist()
    shown = 0
    for t, frame in enumerate(tracked):
        theirs = resized_masks(meta_run.mask_logits[t][:, 0], (IMAGE_SIZE, IMAGE_SIZE))[0].numpy()
        mine = frame.mask_of(1)
        if mine is None:  # absent or empty: so is the reference's
            assert not theirs.any(), t
            continue
        shown += 1
        iou = (mine & theirs).sum() / max((mine | theirs).sum(), 1)
        assert iou >= 0.99, (t, iou)
        score = float(torch.sigmoid(meta_run.object_score_logits[t]))
        assert abs(float(frame.scores[0]) - score) <= 0.02, t
    assert shown >= NUM_FRAMES // 2  # the object shows on most frames: the check has teeth


@torch.no_grad()
def test_memory_selection_is_the_difference_from_the_reference(
    head: InteractiveHead, frames: list[TrackerFrameFeatures], prompt: Any, meta_run: ReferenceRun
) -> None:
    """Control for facts §5 #8: with Meta's memory selection on (our default) frames 0 and 1
    are the reference's, but from frame 2 on a frame attends to the selected frames' pointers
    but the oldest (Meta leaves it out), which transformers, not selecting, keeps."""
    clip = [torch.zeros(3, IMAGE_SIZE, IMAGE_SIZE, dtype=torch.uint8)] * NUM_FRAMES
    tracker = ClickTracker(InjectedFeatures(head, frames, IMAGE_SIZE), open_frames(clip))
    tracker.add_prompt(0, 1, **session_prompt(prompt))
    ours = list(tracker.propagate())
    theirs = [float(torch.sigmoid(s)) for s in meta_run.object_score_logits]
    for t in (0, 1):
        assert not len(ours[t]) or abs(float(ours[t].scores[0]) - theirs[t]) <= 0.02
    assert any(
        not len(ours[t]) or abs(float(ours[t].scores[0]) - theirs[t]) > 1e-3
        for t in range(2, NUM_FRAMES)
    )
