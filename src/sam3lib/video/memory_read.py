"""A tracked frame's memory-attention inputs, read from the objects' memory bank: the selected
frames' memories with their position and temporal encodings, then the selected object pointers
split into memory-width tokens with their temporal encoding (``SAM3_TRACKER_FACTS.md`` §3).

Which frames is :mod:`sam3lib.video.memory_bank`; this module turns them into tensors with the
tracker head's ``memory_temporal_positional_encoding`` and
``temporal_positional_encoding_projection_layer``.
"""

from __future__ import annotations

from typing import TypeVar

import torch
from torch import Tensor, nn

from sam3lib.model.interactive import InteractiveHead
from sam3lib.model.layers import sine_position_grid
from sam3lib.video.memory_bank import (
    MAX_CONDITIONING_FRAMES,
    MemoryBank,
    pointer_temporal_encoding,
    pointer_window,
    select_memory_frames,
    select_pointer_frames,
)
from sam3lib.video.memory_selection import selectable_frames

MAX_OBJECT_POINTERS = 16  # VideoConfig.max_object_pointers; the head does not keep its config

Part = TypeVar("Part", bound=nn.Module | Tensor)


def build_memory(
    head: InteractiveHead,
    bank: MemoryBank,
    frame: int,
    num_frames: int | None,
    *,
    reverse: bool = False,
    max_conditioning: int = MAX_CONDITIONING_FRAMES,
    max_pointers: int = MAX_OBJECT_POINTERS,
    selection_threshold: float | None = None,
) -> tuple[Tensor, Tensor, int]:
    """The memory-attention inputs of ``frame``: memory (B, F·G² + 4P, M), its position
    encoding (same shape) and the number of pointer tokens 4P (a C-wide pointer is C/M
    tokens, pointer-major). ``selection_threshold``: Meta's memory selection
    (:mod:`~sam3lib.video.memory_selection`) with this threshold; None: off."""
    temporal = video_part(head, "memory_temporal_positional_encoding", nn.Parameter)
    projection = video_part(head, "temporal_positional_encoding_projection_layer", nn.Module)
    num_memories = temporal.shape[0]
    conditioning, tracked = list(bank.conditioning), list(bank.tracked)
    selection = None
    if selection_threshold is not None:
        selection = selectable_frames(
            frame, bank.selection_scores, num_frames=num_frames, max_pointers=max_pointers,
            reverse=reverse, threshold=selection_threshold,
        )  # fmt: skip
    slots = select_memory_frames(
        frame, conditioning, tracked, num_memories=num_memories,
        max_conditioning=max_conditioning, reverse=reverse, selection=selection,
    )  # fmt: skip
    dtype = temporal.dtype
    memories, positions = [], []
    for slot in slots:
        stored = bank.entry(slot.frame).memory.to(device=temporal.device, dtype=dtype)
        batch, channels, grid, _ = stored.shape
        pos = sine_position_grid(grid, grid, channels // 2, stored.device).to(dtype)
        memories.append(stored.flatten(2).transpose(1, 2))
        pos = pos.flatten(2).transpose(1, 2) + temporal[slot.temporal_index].view(1, 1, -1)
        positions.append(pos.expand(batch, -1, -1))
    window = pointer_window(num_frames, max_pointers)
    pointer_slots = select_pointer_frames(
        frame, conditioning, tracked, num_frames=num_frames, max_pointers=window,
        max_conditioning=max_conditioning, reverse=reverse, selection=selection,
    )  # fmt: skip
    num_pointer_tokens = 0
    if pointer_slots:
        pointers = torch.stack(
            [bank.entry(s.frame).pointer.to(temporal.device) for s in pointer_slots], dim=1
        )
        batch, count, width = pointers.shape
        channels = temporal.shape[-1]
        splits = width // channels
        offsets = torch.tensor([s.offset for s in pointer_slots], device=pointers.device)
        pos = projection(pointer_temporal_encoding(offsets, window, width).to(pointers.dtype))
        memories.append(pointers.reshape(batch, count * splits, channels).to(dtype))
        positions.append(pos.repeat_interleave(splits, dim=0).expand(batch, -1, -1))
        num_pointer_tokens = count * splits
    return torch.cat(memories, dim=1), torch.cat(positions, dim=1), num_pointer_tokens


def video_part(head: InteractiveHead, name: str, kind: type[Part]) -> Part:
    """The head's video part ``name`` (registered by name, so untyped on the class)."""
    part = getattr(head, name, None)
    if not isinstance(part, kind):
        raise ValueError(
            f"the tracker head has no video part {name!r}: build it with a VideoConfig"
        )
    return part
