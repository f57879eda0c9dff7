"""Which earlier frames a tracked frame attends to: Meta's memory bank and object pointers.

A tracked object (or a batch of objects tracked together) keeps, per frame it was segmented
on, a :class:`FrameMemory`: the memory encoder's output (stored in bf16, as Meta and
transformers both store it), the object pointer and the object-score logit. Frames the user
prompted are *conditioning* frames; the others are *tracked* frames. :class:`MemoryBank` is
that state, immutable: :meth:`MemoryBank.with_frame` returns a new bank.

The selection is pure functions of frame indices (``SAM3_TRACKER_FACTS.md`` §3 "Bank",
"Pointers"; Meta ``Sam3TrackerBase._prepare_memory_conditioned_features``):

* :func:`select_conditioning_frames`: all conditioning frames if there are at most
  ``max_conditioning`` (4), else the nearest before, the nearest at/after, then the nearest;
* :func:`select_memory_frames`: those, then the ``num_memories − 1`` (6) frames before the
  current one (after, when tracking in reverse), each a tracked frame or a conditioning frame
  left out above; slot ``k`` back uses temporal encoding row ``k − 1``, a selected
  conditioning frame the last row;
* :func:`select_pointer_frames`: the selected conditioning frames at or before the current
  frame (at or after, in reverse), then up to ``min(T, 16) − 1`` frames back, with the signed
  distance that :func:`pointer_temporal_encoding` turns into the pointers' position encoding.

Where transformers differs (it takes every conditioning frame's pointer, not only the selected
ones, and never an unselected conditioning frame's pointer among the previous frames), this
follows Meta; the two agree with at most four conditioning frames.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType

import torch
from torch import Tensor

# Meta's builder (max_cond_frames_in_attn) and transformers' Sam3TrackerVideoConfig
# (max_cond_frame_num): conditioning frames a frame attends to.
MAX_CONDITIONING_FRAMES = 4


@dataclass(frozen=True)
class FrameMemory:
    """What one frame leaves for later frames, for B objects.

    Attributes:
        memory: (B, M, G, G) the memory encoder's output (M = 64), bf16 as stored.
        pointer: (B, C) the object pointer (C = 256, the tracker width).
        object_score_logits: (B, 1) the frame's object-score logit (> 0: present).
        selection_score: a tracked frame's memory-selection score (see
            :mod:`~sam3lib.video.memory_selection`); None for conditioning frames.
    """

    memory: Tensor
    pointer: Tensor
    object_score_logits: Tensor
    selection_score: float | None = None


@dataclass(frozen=True)
class MemorySlot:
    """One spatial memory a frame attends to: ``frame`` and the row of
    ``memory_temporal_positional_encoding`` added to its position encoding."""

    frame: int
    temporal_index: int


@dataclass(frozen=True)
class PointerSlot:
    """One object pointer a frame attends to: ``frame`` and its signed distance ``offset``
    (current − frame, negated when tracking in reverse)."""

    frame: int
    offset: int


@dataclass(frozen=True)
class MemoryBank:
    """One tracked object's (or batch's) memories by frame; immutable.

    A frame is either conditioning or tracked: adding a conditioning frame drops a tracked
    entry of the same frame (as Meta's predictor does once clicks are consolidated).
    ``device``: where entries are stored (e.g. the CPU while the model runs on a GPU, Meta's
    ``offload_state_to_cpu``); None keeps them where they were computed. Reading moves them
    to the model's device.

    Example:
        >>> entry = FrameMemory(torch.zeros(1, 64, 4, 4), torch.zeros(1, 256), torch.ones(1, 1))
        >>> bank = MemoryBank().with_frame(0, entry, conditioning=True)
        >>> bank = bank.with_frame(1, entry, conditioning=False)
        >>> sorted(bank.conditioning), sorted(bank.tracked)
        ([0], [1])
    """

    conditioning: Mapping[int, FrameMemory] = field(default_factory=lambda: MappingProxyType({}))
    tracked: Mapping[int, FrameMemory] = field(default_factory=lambda: MappingProxyType({}))
    device: torch.device | None = None

    def with_frame(self, frame: int, entry: FrameMemory, *, conditioning: bool) -> MemoryBank:
        """A bank that also holds ``entry`` for ``frame`` (replacing what it held there)."""
        device = self.device
        stored = FrameMemory(
            entry.memory.to(device=device, dtype=torch.bfloat16),
            entry.pointer.to(device),
            entry.object_score_logits.to(device),
            entry.selection_score,
        )
        cond = dict(self.conditioning)
        tracked = dict(self.tracked)
        if conditioning:
            cond[frame] = stored
            tracked.pop(frame, None)
        elif frame in cond:
            raise ValueError(f"frame {frame} is a conditioning frame; it is not re-tracked")
        else:
            tracked[frame] = stored
        return replace(self, conditioning=MappingProxyType(cond), tracked=MappingProxyType(tracked))

    @property
    def selection_scores(self) -> dict[int, float]:
        """Tracked frames' memory-selection scores, where they have one."""
        return {
            t: e.selection_score for t, e in self.tracked.items() if e.selection_score is not None
        }

    def entry(self, frame: int) -> FrameMemory:
        """The memory stored for ``frame`` (conditioning or tracked)."""
        found = self.conditioning.get(frame, self.tracked.get(frame))
        if found is None:
            raise KeyError(f"no memory stored for frame {frame}")
        return found


def select_conditioning_frames(
    frame: int, conditioning: Iterable[int], max_conditioning: int = MAX_CONDITIONING_FRAMES
) -> tuple[list[int], list[int]]:
    """Meta's ``select_closest_cond_frames``: (selected, unselected) conditioning frames.

    All of them if there are at most ``max_conditioning`` (or it is -1); else the nearest
    before ``frame``, the nearest at or after it, then the others by distance (ties: the
    earlier frame, Python's stable sort over ascending frames).

    Example:
        >>> select_conditioning_frames(10, [0, 4, 8, 12, 30, 40])
        ([8, 12, 4, 0], [30, 40])
    """
    frames = sorted(set(conditioning))
    if max_conditioning == -1 or len(frames) <= max_conditioning:
        return frames, []
    if max_conditioning < 2:
        raise ValueError(f"max_conditioning must be -1 or at least 2, got {max_conditioning}")
    selected: list[int] = []
    before = [t for t in frames if t < frame]
    after = [t for t in frames if t >= frame]
    if before:
        selected.append(before[-1])
    if after:
        selected.append(after[0])
    rest = sorted((t for t in frames if t not in selected), key=lambda t: abs(t - frame))
    selected += rest[: max_conditioning - len(selected)]
    return selected, [t for t in frames if t not in selected]


def select_memory_frames(
    frame: int,
    conditioning: Iterable[int],
    tracked: Iterable[int],
    *,
    num_memories: int = 7,
    max_conditioning: int = MAX_CONDITIONING_FRAMES,
    reverse: bool = False,
    selection: Sequence[int] | None = None,
) -> list[MemorySlot]:
    """The spatial memories ``frame`` attends to, in Meta's order.

    Selected conditioning frames first (temporal row ``num_memories − 1``), then for
    ``k = num_memories − 1 … 1`` the frame ``k`` back (forward in ``reverse``), if it is a
    tracked frame or an unselected conditioning frame (row ``k − 1``). With memory
    ``selection`` (:func:`~sam3lib.video.memory_selection.selectable_frames`, nearest last)
    the ``k``-th from its end replaces the frame ``k`` back.

    Example:
        >>> [(s.frame, s.temporal_index) for s in select_memory_frames(9, [0], range(1, 9))]
        [(0, 6), (3, 5), (4, 4), (5, 3), (6, 2), (7, 1), (8, 0)]
    """
    selected, unselected = select_conditioning_frames(frame, conditioning, max_conditioning)
    slots = [MemorySlot(t, num_memories - 1) for t in selected]
    available = set(tracked) | set(unselected)
    step = 1 if reverse else -1
    for back in range(num_memories - 1, 0, -1):
        if selection is None:
            previous = frame + step * back
        elif back <= len(selection):
            previous = selection[-back]
        else:
            continue
        if previous in available:
            slots.append(MemorySlot(previous, back - 1))
    return slots


def select_pointer_frames(
    frame: int,
    conditioning: Iterable[int],
    tracked: Iterable[int],
    *,
    num_frames: int | None,
    max_pointers: int = 16,
    max_conditioning: int = MAX_CONDITIONING_FRAMES,
    reverse: bool = False,
    selection: Sequence[int] | None = None,
) -> list[PointerSlot]:
    """The object pointers ``frame`` attends to, in Meta's order.

    The selected conditioning frames at or before ``frame`` (at or after, in ``reverse``),
    with ``offset = (frame − t)``, negated in reverse; then for ``d = 1 … P − 1`` the frame
    ``d`` back, if tracked (or an unselected conditioning frame), with ``offset = d``. The
    walk stops at the video's ends. ``P`` is :func:`pointer_window` (``min(T, 16)``). With
    memory ``selection`` the ``d``-th frame from its end, for ``d`` < its length (Meta leaves
    out the oldest), replaces the frame ``d`` back; ``offset = d`` still.

    Example:
        >>> [(s.frame, s.offset) for s in select_pointer_frames(3, [0], [1, 2], num_frames=8)]
        [(0, 3), (2, 1), (1, 2)]
    """
    selected, unselected = select_conditioning_frames(frame, conditioning, max_conditioning)
    sign = -1 if reverse else 1
    slots = [
        PointerSlot(t, (frame - t) * sign)
        for t in selected
        if (t >= frame if reverse else t <= frame)
    ]
    available = set(tracked) | set(unselected)
    for back in range(1, pointer_window(num_frames, max_pointers)):
        if selection is not None:
            if back >= len(selection):
                break
            previous = selection[-back]
        else:
            previous = frame + back if reverse else frame - back
            if previous < 0 or (num_frames is not None and previous >= num_frames):
                break
        if previous in available:
            slots.append(PointerSlot(previous, back))
    return slots


def pointer_window(num_frames: int | None, max_pointers: int = 16) -> int:
    """``min(T, max_pointers)``; a stream of unknown length (``None``) takes ``max_pointers``."""
    return max_pointers if num_frames is None else min(num_frames, max_pointers)


def pointer_temporal_encoding(offsets: Tensor, window: int, width: int) -> Tensor:
    """1-D sine encoding of pointer distances, before the tracker's projection to 64 channels.

    ``offsets`` (P,) signed frame distances are divided by ``window − 1``; the result is
    ``[sin(x / 10000^(2⌊i/2⌋/(W/2))) for i < W/2] ++ [cos(...)]``, (P, ``width``): Meta's
    ``get_1d_sine_pe`` (halves, not interleaved). A window of 1 leaves the offsets unscaled
    (only a frame's own conditioning pointer, offset 0, can occur there).

    Example:
        >>> pointer_temporal_encoding(torch.tensor([0.0]), window=16, width=4)
        tensor([[0., 0., 1., 1.]])
    """
    half = width // 2
    index = torch.arange(half, dtype=torch.float32, device=offsets.device)
    dim_t = 10000.0 ** (2 * torch.div(index, 2, rounding_mode="floor") / half)
    scaled = offsets.float() / max(window - 1, 1)
    phase = scaled[:, None] / dim_t
    return torch.cat((phase.sin(), phase.cos()), dim=-1)
