"""The tracker step's memory-bank selection (known answers from Meta's rules) and its
object-absent handling, on a tiny random head."""

from __future__ import annotations

import ast
import random
from typing import Any

import pytest
import torch
from torch import nn

from helpers.meta_sam3 import meta_sam3_root
from sam3lib.model.config import (
    MemoryAttentionConfig,
    MemoryEncoderConfig,
    TrackerConfig,
    VideoConfig,
)
from sam3lib.model.interactive import InteractiveHead
from sam3lib.video.memory_bank import (
    FrameMemory,
    MemoryBank,
    pointer_temporal_encoding,
    pointer_window,
    select_conditioning_frames,
    select_memory_frames,
    select_pointer_frames,
)
from sam3lib.video.memory_read import build_memory
from sam3lib.video.tracker_step import (
    NO_OBJECT_LOGIT,
    TrackerFrameFeatures,
    encode_memory,
    mask_prompt_step,
    prompted_step,
    tracked_step,
    tracker_frame_features,
    write_memory,
)


def memory_slots(*args: object, **kwargs: object) -> list[tuple[int, int]]:
    return [(s.frame, s.temporal_index) for s in select_memory_frames(*args, **kwargs)]  # type: ignore[arg-type]


def pointer_slots(*args: object, **kwargs: object) -> list[tuple[int, int]]:
    return [(s.frame, s.offset) for s in select_pointer_frames(*args, **kwargs)]  # type: ignore[arg-type]


# --- conditioning frames -------------------------------------------------------------------


def test_up_to_four_conditioning_frames_are_all_selected() -> None:
    assert select_conditioning_frames(5, [9, 0, 3, 20]) == ([0, 3, 9, 20], [])


def test_more_than_four_take_nearest_before_nearest_after_then_nearest() -> None:
    # before 10: 8; at/after: 12; then by distance 4 (6), 0 (10) over 30 (20), 40 (30).
    assert select_conditioning_frames(10, [0, 4, 8, 12, 30, 40]) == ([8, 12, 4, 0], [30, 40])


def test_a_conditioning_frame_at_the_current_frame_counts_as_after() -> None:
    assert select_conditioning_frames(12, [0, 4, 8, 12, 30]) == ([8, 12, 4, 0], [30])


def test_conditioning_limit_of_minus_one_keeps_all() -> None:
    assert select_conditioning_frames(0, range(10), -1) == (list(range(10)), [])


def metas_select_closest_cond_frames() -> Any:
    """Meta's function, compiled from the ``sam3`` wheel's source alone (its module imports
    iopath and triton)."""
    source = (meta_sam3_root() / "model" / "sam3_tracker_utils.py").read_text()
    tree = ast.parse(source)
    [function] = [
        node
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name == "select_closest_cond_frames"
    ]
    namespace: dict[str, Any] = {}
    exec(compile(ast.Module([function], []), "sam3_tracker_utils", "exec"), namespace)
    return namespace["select_closest_cond_frames"]


def test_conditioning_selection_equals_metas_on_random_frames() -> None:
    meta = metas_select_closest_cond_frames()
    rng = random.Random(0)
    for _ in range(300):
        frames = sorted(rng.sample(range(60), rng.randint(1, 9)))
        frame, limit = rng.randrange(60), rng.choice([-1, 2, 3, 4])
        selected, unselected = meta(frame, {t: t for t in frames}, limit)
        assert select_conditioning_frames(frame, frames, limit) == (
            list(selected),
            list(unselected),
        )


# --- spatial memories ----------------------------------------------------------------------


def test_forward_memory_is_conditioning_frame_then_six_previous_frames() -> None:
    slots = memory_slots(9, [0], range(1, 9))
    assert slots == [(0, 6), (3, 5), (4, 4), (5, 3), (6, 2), (7, 1), (8, 0)]


def test_early_frames_have_fewer_memories() -> None:
    assert memory_slots(2, [0], [1]) == [(0, 6), (1, 0)]
    assert memory_slots(1, [0], []) == [(0, 6)]


def test_reverse_memory_takes_the_following_frames() -> None:
    slots = memory_slots(2, [10], range(3, 10), reverse=True)
    assert slots == [(10, 6), (8, 5), (7, 4), (6, 3), (5, 2), (4, 1), (3, 0)]


def test_an_unselected_conditioning_frame_fills_a_previous_slot() -> None:
    # Six conditioning frames, nothing at or after 22: the nearest before (21), then by
    # distance 20, 19, 18; 0 and 1 are left out.
    assert select_conditioning_frames(22, [0, 1, 18, 19, 20, 21]) == ([21, 20, 19, 18], [0, 1])
    # At frame 3 the selected are 1 (before), 18 (after), 0, 19; 20 and 21 are unselected
    # and too far; tracked frame 2 is one back.
    assert memory_slots(3, [0, 1, 18, 19, 20, 21], [2]) == [
        (1, 6), (18, 6), (0, 6), (19, 6), (2, 0),
    ]  # fmt: skip
    # At frame 6 with conditioning frames 0..4 and 30: selected 4, 30, 3, 2; the unselected
    # 0 and 1 are 6 and 5 frames back, so they fill those slots (rows 5 and 4).
    assert memory_slots(6, [0, 1, 2, 3, 4, 30], [5]) == [
        (4, 6), (30, 6), (3, 6), (2, 6), (0, 5), (1, 4), (5, 0),
    ]  # fmt: skip


def test_memory_count_follows_num_memories() -> None:
    assert memory_slots(10, [0], range(1, 10), num_memories=3) == [(0, 2), (8, 1), (9, 0)]


# --- object pointers -----------------------------------------------------------------------


def test_pointers_are_conditioning_frames_then_up_to_fifteen_previous_frames() -> None:
    slots = pointer_slots(20, [0], range(1, 20), num_frames=100)
    assert slots[0] == (0, 20)
    assert slots[1:] == [(20 - d, d) for d in range(1, 16)]


def test_pointer_window_is_capped_by_the_video_length() -> None:
    assert pointer_window(5) == 5
    assert pointer_window(100) == 16
    assert pointer_window(None) == 16  # a stream
    slots = pointer_slots(4, [0], [1, 2, 3], num_frames=5)
    assert slots == [(0, 4), (3, 1), (2, 2), (1, 3)]  # d < min(5, 16) = 5
    assert pointer_slots(2, [0], [1], num_frames=3) == [(0, 2), (1, 1)]


def test_only_conditioning_frames_at_or_before_the_current_frame_give_pointers() -> None:
    assert pointer_slots(5, [0, 8], [4], num_frames=10) == [(0, 5), (4, 1)]


def test_reverse_pointers_take_following_frames_with_negative_conditioning_offsets() -> None:
    slots = pointer_slots(5, [9, 2], [6, 7, 8], num_frames=10, reverse=True)
    # conditioning frames at/after 5: 9, offset (5 − 9)·(−1) = 4; then 6, 7, 8, stop at 10.
    assert slots == [(9, 4), (6, 1), (7, 2), (8, 3)]


def test_unselected_conditioning_frame_gives_a_previous_pointer() -> None:
    slots = pointer_slots(6, [0, 1, 2, 3, 4, 30], [5], num_frames=40)
    assert slots == [(4, 2), (3, 3), (2, 4), (5, 1), (1, 5), (0, 6)]


def test_pointer_temporal_encoding_is_sine_then_cosine_halves() -> None:
    encoding = pointer_temporal_encoding(torch.tensor([0.0, 15.0]), window=16, width=8)
    torch.testing.assert_close(encoding[0], torch.tensor([0.0] * 4 + [1.0] * 4))
    x = torch.tensor(1.0) / torch.tensor([1.0, 1.0, 100.0, 100.0])  # 15/15 over 1e4^(2⌊i/2⌋/4)
    torch.testing.assert_close(encoding[1], torch.cat((x.sin(), x.cos())))


# --- the bank ------------------------------------------------------------------------------


def entry(value: float) -> FrameMemory:
    return FrameMemory(
        torch.full((1, 16, 4, 4), value), torch.full((1, 32), value), torch.ones(1, 1)
    )


def test_bank_stores_memories_in_bf16_and_conditioning_replaces_tracked() -> None:
    bank = MemoryBank().with_frame(3, entry(1.0), conditioning=False)
    assert bank.entry(3).memory.dtype == torch.bfloat16
    bank = bank.with_frame(3, entry(2.0), conditioning=True)
    assert list(bank.conditioning) == [3] and not bank.tracked
    with pytest.raises(ValueError, match="conditioning frame"):
        bank.with_frame(3, entry(1.0), conditioning=False)
    with pytest.raises(KeyError):
        bank.entry(4)


# --- the step on a tiny head ---------------------------------------------------------------

GRID, IMAGE = 4, 56
WIDTH, MEMORY = 32, 16


@pytest.fixture(scope="module")
def head() -> InteractiveHead:
    video = VideoConfig(
        memory_encoder=MemoryEncoderConfig(
            hidden_size=WIDTH, memory_channels=MEMORY, downsampler_channels=(4, 16),
            fuser_layers=1, fuser_mlp_ratio=2,
        ),
        memory_attention=MemoryAttentionConfig(
            hidden_size=WIDTH, num_layers=1, mlp_dim=64, memory_channels=MEMORY
        ),
    )  # fmt: skip
    tracker = TrackerConfig(hidden_size=WIDTH, num_heads=2, mlp_dim=64, iou_head_hidden_size=32)
    head = InteractiveHead(tracker, IMAGE, GRID, video).eval()
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for tensor in [*head.parameters(), *head.buffers()]:
            tensor.copy_(torch.randn(tensor.shape, generator=generator) * 0.5)
    return head


@pytest.fixture(scope="module")
def features(head: InteractiveHead) -> TrackerFrameFeatures:
    generator = torch.Generator().manual_seed(1)
    levels = [torch.randn(1, WIDTH, GRID * s, GRID * s, generator=generator) for s in (4, 2, 1)]
    with torch.no_grad():
        return tracker_frame_features(head, levels)


def parameter(head: InteractiveHead, name: str) -> torch.Tensor:
    """One of the head's video tensors (registered by name, so untyped on the class)."""
    tensor = getattr(head, name)
    assert isinstance(tensor, torch.Tensor)
    return tensor.detach()


def absent(head: InteractiveHead) -> nn.Linear:
    """The object-score head's last layer, to be pushed to "absent"."""
    layer = head.mask_decoder.pred_obj_score_head.proj_out
    assert isinstance(layer, nn.Linear)
    return layer


@torch.no_grad()
def test_absent_object_gets_no_object_masks_pointer_and_occlusion_memory(
    head: InteractiveHead, features: TrackerFrameFeatures
) -> None:
    click = torch.tensor([[[20.0, 30.0], [0.0, 0.0]]]), torch.tensor([[1, -1]])
    layer = absent(head)
    saved = layer.bias.clone()
    try:
        layer.bias.fill_(-1e4)
        out = prompted_step(head, features, *click)
        assert bool((out.object_score_logits <= 0).all())
        assert bool((out.mask_logits == NO_OBJECT_LOGIT).all())
        torch.testing.assert_close(out.pointer, parameter(head, "no_object_pointer"))
        bank = MemoryBank().with_frame(
            0, write_memory(head, features, out, prompted=True), conditioning=True
        )
        tracked = tracked_step(head, features, bank, frame=1, num_frames=4)
        assert bool((tracked.mask_logits == NO_OBJECT_LOGIT).all())
        torch.testing.assert_close(tracked.pointer, parameter(head, "no_object_pointer"))
        present = out._replace(object_score_logits=torch.ones_like(out.object_score_logits))
        difference = encode_memory(head, features, out, prompted=True) - encode_memory(
            head, features, present, prompted=True
        )
        occlusion = parameter(head, "occlusion_spatial_embedding_parameter").view(1, -1, 1, 1)
        torch.testing.assert_close(difference, occlusion.expand_as(difference))
    finally:
        layer.bias.copy_(saved)


@torch.no_grad()
def test_empty_mask_prompt_is_absent_and_a_mask_is_present(
    head: InteractiveHead, features: TrackerFrameFeatures
) -> None:
    empty = mask_prompt_step(head, features, torch.zeros(1, 1, 70, 70))
    assert empty.object_score_logits.item() == -10.0
    torch.testing.assert_close(empty.pointer, parameter(head, "no_object_pointer"))
    torch.testing.assert_close(empty.mask_logits, torch.full_like(empty.mask_logits, -10.0))
    mask = torch.zeros(1, 1, 16 * GRID, 16 * GRID)
    mask[..., 8:40, 16:48] = 1.0
    full = mask_prompt_step(head, features, mask)
    assert full.object_score_logits.item() == 10.0
    assert full.mask_logits.shape == (1, 1, 4 * GRID, 4 * GRID)
    assert float(full.mask_logits.max()) == pytest.approx(10.0)
    assert not torch.equal(full.pointer, parameter(head, "no_object_pointer"))


@torch.no_grad()
def test_pointers_are_split_into_memory_width_tokens_after_the_memories(
    head: InteractiveHead, features: TrackerFrameFeatures
) -> None:
    """C = 32, M = 16: each pointer is 2 tokens (SAM 3: 256 / 64 = 4); 3 frames give 3
    memories and 3 pointers."""
    bank = MemoryBank()
    for t in range(3):
        bank = bank.with_frame(t, entry(float(t)), conditioning=t == 0)
    memory, memory_pos, num_pointer_tokens = build_memory(head, bank, frame=3, num_frames=10)
    assert num_pointer_tokens == 3 * (WIDTH // MEMORY)
    assert memory.shape == (1, 3 * GRID**2 + num_pointer_tokens, MEMORY)
    assert memory_pos.shape == memory.shape
    # Pointer tokens come pointer-major: conditioning frame 0, then frames 2 and 1.
    assert memory[0, 3 * GRID**2 :, 0].tolist() == [0.0, 0.0, 2.0, 2.0, 1.0, 1.0]


@torch.no_grad()
def test_batched_objects_match_one_at_a_time(
    head: InteractiveHead, features: TrackerFrameFeatures
) -> None:
    coords = torch.tensor([[[20.0, 30.0], [0.0, 0.0]], [[40.0, 10.0], [0.0, 0.0]]])
    labels = torch.tensor([[1, -1], [1, -1]])
    both = prompted_step(head, features, coords, labels)
    bank = MemoryBank().with_frame(
        0, write_memory(head, features, both, prompted=True), conditioning=True
    )
    tracked = tracked_step(head, features, bank, frame=1, num_frames=3)
    for row in range(2):
        one = prompted_step(head, features, coords[row : row + 1], labels[row : row + 1])
        torch.testing.assert_close(
            one.mask_logits, both.mask_logits[row : row + 1], rtol=1e-4, atol=1e-4
        )
        single = MemoryBank().with_frame(
            0, write_memory(head, features, one, prompted=True), conditioning=True
        )
        alone = tracked_step(head, features, single, frame=1, num_frames=3)
        torch.testing.assert_close(
            alone.mask_logits, tracked.mask_logits[row : row + 1], rtol=1e-4, atol=1e-4
        )
