"""Click tracking: objects prompted with clicks, a box or a mask on some frames, then followed
through the video by the tracker, frame by frame, forward or backward.

Meta's ``Sam3TrackerPredictor`` (sam3 0.1.4), object by object:

* a prompt on a frame makes it one of the object's *conditioning* frames: the decoder runs on
  that frame without memory; clicks on a frame the object already has a mask on are
  corrections, and that mask's low-resolution logits (±32) go in as the decoder's mask prompt
  (``prev_sam_mask_logits``). Clicks on one frame accumulate (Meta takes the full list each
  call); past 16, the first 8 and the last 8 are used, as Meta does;
* :meth:`ClickTracker.propagate` starts at the earliest prompted frame (the latest, in
  reverse) and tracks every frame after it (before it), re-tracking frames an earlier pass
  tracked; prompted frames give their prompt's mask.

Where this differs from Meta: each object keeps its own memory, so an object is tracked from
its own first prompted frame on (Meta batches the objects, and an object not prompted on
another object's prompted frame gets an empty conditioning memory there); with every object
prompted on the same frames the two are the same. Meta's memory selection
(:mod:`~sam3lib.video.memory_selection`, on in its video model) is on by default: a frame's
score is the mean over the objects tracked on it, as over Meta's batch.

Memory stays bounded: a tracked frame's memory is kept while a later frame can read it (16
frames: 7 memories, 16 pointers; with memory selection also the 15 latest frames that pass
it) or while it is that near a prompted frame (a pass in the other direction starts there).
Its low-resolution logits, the mask prompt of a later correction, are kept in float16 on
the CPU (0.16 MB per object and frame for SAM 3) for a file, folder or list; a stream (an
iterator of frames) keeps only the current frame's.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import numpy as np
import torch
from torch import Tensor

from sam3lib.errors import InputError
from sam3lib.interactive.predictor import resized_masks
from sam3lib.interactive.prompts import PointsLike, check_interactive_prompt
from sam3lib.postprocess import boxes_from_masks
from sam3lib.video.frame_encoder import EncodedFrame, FrameEncoder
from sam3lib.video.frames import VideoFrames
from sam3lib.video.memory_bank import FrameMemory, MemoryBank
from sam3lib.video.memory_selection import (
    SELECTION_THRESHOLD,
    object_selection_scores,
    reachable_frames,
)
from sam3lib.video.result import TrackedFrame
from sam3lib.video.tracker_step import (
    StepOutput,
    encode_prompted_memories,
    mask_prompt_memory_logits,
    mask_prompt_step,
    prompted_step,
    tracked_step,
    write_memory,
)

__all__ = ["ClickTracker"]

MAX_PROMPT_POINTS = 16  # Meta max_point_num_in_prompt_enc: the first 8 and the last 8 are kept
MEMORY_REACH = 16  # frames back a tracked frame reads: max(7 memories, 16 pointers)


@dataclass
class _FramePrompt:
    """What the user gave one object on one frame, in video pixels."""

    points: list[list[float]] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    box: Any = None


@dataclass
class _TrackedObject:
    prompts: dict[int, _FramePrompt] = field(default_factory=dict)
    masks: dict[int, Tensor] = field(default_factory=dict)  # mask prompts at video size
    conditioning: dict[int, StepOutput] = field(default_factory=dict)
    bank: MemoryBank = field(default_factory=MemoryBank)
    logits: dict[int, Tensor] = field(default_factory=dict)  # tracked frames, float16, CPU
    scores: dict[int, float] = field(default_factory=dict)  # tracked frames' object logits


class ClickTracker:
    """Objects prompted on frames of one video, tracked by the tracker head.

    Args:
        encoder: runs the model (:class:`~sam3lib.video.frame_encoder.FrameEncoder`).
        frames: the video (:func:`~sam3lib.video.frames.open_frames`).
        state_device: where the objects' memories are kept (the CPU while the model runs on
            a GPU); None: on the model's device.
        selection_threshold: Meta's memory selection (:mod:`~sam3lib.video.memory_selection`,
            on in its video model); None turns it off (as transformers has it).

    Example:
        >>> encoder = FrameEncoder(seg.backend)  # doctest: +SKIP
        >>> tracker = ClickTracker(encoder, open_frames("clip.mp4"))  # doctest: +SKIP
        >>> tracker.add_prompt(0, 1, points=[[410, 220]], labels=[1])  # doctest: +SKIP
        >>> for frame in tracker.propagate():  # doctest: +SKIP
        ...     frame.object_ids, frame.masks.shape
    """

    def __init__(
        self,
        encoder: FrameEncoder,
        frames: VideoFrames,
        state_device: torch.device | None = None,
        selection_threshold: float | None = SELECTION_THRESHOLD,
    ) -> None:
        self.encoder = encoder
        self.frames = frames
        self.state_device = state_device
        self.selection_threshold = selection_threshold
        self._objects: dict[int, _TrackedObject] = {}
        self._current: EncodedFrame | None = None
        self._streaming = not frames.seekable
        self._next_stream_frame = 0

    @property
    def object_ids(self) -> tuple[int, ...]:
        """Objects with a prompt, increasing."""
        return tuple(sorted(self._objects))

    @property
    def prompted_frames(self) -> Mapping[int, tuple[int, ...]]:
        """Per object, its prompted (conditioning) frames, increasing."""
        return MappingProxyType(
            {i: tuple(sorted(o.conditioning)) for i, o in sorted(self._objects.items())}
        )

    def add_prompt(
        self,
        frame: int,
        object_id: int,
        *,
        points: PointsLike | None = None,
        labels: Any = None,
        box: Any = None,
        mask: Any = None,
    ) -> TrackedFrame:
        """Prompts ``object_id`` on ``frame`` (a new object, or a correction of a known one).

        Args:
            frame: the frame index.
            object_id: any int ≥ 0 of your choosing; a new id starts an object.
            points: (P, 2) xy clicks in video pixels, added to the object's earlier clicks on
                this frame; ``labels`` (P,): 1 object, 0 background (default all 1).
            box: [x0, y0, x1, y1] in video pixels; replaces the frame's earlier prompt.
            mask: (H, W) bool or [0, 1] array at video size: the object's mask on this frame;
                replaces the frame's clicks and box.

        Returns:
            The frame with every object that has a mask on it.

        Raises:
            InputError: an argument is unacceptable (the message names it).
        """
        object_id = _check_object_id(object_id)
        if mask is not None and (points is not None or box is not None):
            raise InputError("mask: give a mask alone, or points and/or a box, not both")
        encoded = self._encoded(self._check_frame(frame))
        state = self._objects.get(object_id) or _TrackedObject(
            bank=MemoryBank(device=self.state_device)
        )
        with self.encoder.running():
            head, features = self.encoder.head, encoded.tracker
            if mask is not None:
                video_mask = _check_mask(mask, encoded.size)
                prompt_mask = video_mask[None, None].to(self.encoder.device, torch.float32)
                output = mask_prompt_step(head, features, prompt_mask)
                state.masks[encoded.index] = video_mask
                state.prompts.pop(encoded.index, None)
            else:
                prompt = self._updated_prompt(state, encoded, points, labels, box)
                output = self._prompted_output(state, encoded, prompt)
                state.prompts[encoded.index] = prompt
                state.masks.pop(encoded.index, None)
        state.conditioning[encoded.index] = output
        state.logits.pop(encoded.index, None)
        self._objects[object_id] = state
        self._write_prompted_memories(encoded)
        return self._frame_result(encoded.index, encoded.size)

    def remove(self, object_id: int) -> None:
        """Forgets an object: its prompts, memory and masks.

        Raises:
            InputError: no object has this id.
        """
        checked = _check_object_id(object_id)
        if checked not in self._objects:
            known = ", ".join(map(str, self.object_ids)) or "none"
            raise InputError(f"object_id: no object {checked} (objects: {known})")
        del self._objects[checked]

    def propagate(
        self, start: int | None = None, *, reverse: bool = False
    ) -> Iterator[TrackedFrame]:
        """Tracks every object from ``start`` to the last frame (to frame 0 in ``reverse``).

        Args:
            start: the first frame; by default the earliest prompted frame (the latest in
                reverse). An object is tracked from its own first (last) prompted frame on.
            reverse: track towards earlier frames (not for a stream).

        Yields:
            One :class:`TrackedFrame` per frame, in tracking order.

        Raises:
            InputError: no object has a prompt, ``start`` is not a frame, or ``reverse`` on a
                stream.
        """
        if not self._objects:
            raise InputError("no prompts: add points, a box or a mask on a frame first")
        if reverse and self._streaming:
            raise InputError("reverse: a stream is read once, forward; pass a file or list")
        prompted = [t for o in self._objects.values() for t in o.conditioning]
        first = (max if reverse else min)(prompted)
        index = first if start is None else self._check_frame(start)
        step = -1 if reverse else 1
        while index >= 0:
            encoded = self._encoded_or_none(index)
            if encoded is None:
                return
            yield self._track_frame(encoded, reverse)
            index += step

    # --- internals -------------------------------------------------------------------------

    def _write_prompted_memories(self, encoded: EncodedFrame) -> None:
        """(Re)writes the memories of every object prompted on this frame together, as Meta
        consolidates a prompted frame's objects before encoding them (each pixel to the
        object with the highest logit; a mask prompt as its ±1024 low-res logits)."""
        index = encoded.index
        states = [state for state in self._objects.values() if index in state.conditioning]
        logits = [
            mask_prompt_memory_logits(
                encoded.tracker, state.masks[index][None, None].to(self.encoder.device)
            )
            if index in state.masks
            else state.conditioning[index].mask_logits
            for state in states
        ]
        outputs = [state.conditioning[index] for state in states]
        scores = torch.cat([output.object_score_logits for output in outputs])
        with self.encoder.running():
            memories = encode_prompted_memories(
                self.encoder.head, encoded.tracker, torch.cat(logits).to(scores.device), scores
            )
        for row, (state, output) in enumerate(zip(states, outputs, strict=True)):
            entry = FrameMemory(memories[row : row + 1], output.pointer, output.object_score_logits)
            state.bank = state.bank.with_frame(index, entry, conditioning=True)

    def _track_frame(self, encoded: EncodedFrame, reverse: bool) -> TrackedFrame:
        index = encoded.index
        head, features = self.encoder.head, encoded.tracker
        tracked = [
            state
            for state in self._objects.values()
            if index not in state.conditioning
            and (max(state.conditioning) >= index if reverse else min(state.conditioning) <= index)
        ]
        with self.encoder.running():
            outputs = [
                tracked_step(
                    head, features, state.bank, index, self.frames.count, reverse=reverse,
                    selection_threshold=self.selection_threshold,
                )
                for state in tracked
            ]  # fmt: skip
            # Meta tracks the objects as one batch: the frame's selection score is their mean.
            group_score = (
                float(torch.cat([object_selection_scores(o.object_score_logits, o.iou_scores)
                                 for o in outputs]).mean())
                if outputs else None
            )  # fmt: skip
            entries = [
                write_memory(head, features, output, prompted=False, selection_score=group_score)
                for output in outputs
            ]
        for state, output, entry in zip(tracked, outputs, entries, strict=True):
            bank = state.bank.with_frame(index, entry, conditioning=False)
            state.bank = self._trimmed(bank, index)
            if self._streaming:
                state.logits.clear()
                state.scores.clear()
            state.logits[index] = output.mask_logits[0, 0].to("cpu", torch.float16)
            state.scores[index] = float(output.object_score_logits)
        return self._frame_result(index, encoded.size)

    def _trimmed(self, bank: MemoryBank, current: int) -> MemoryBank:
        """The bank without tracked frames no later frame, nor a pass starting at a prompt,
        can read (:func:`~sam3lib.video.memory_selection.reachable_frames`)."""
        scores = bank.selection_scores
        kept: set[int] = set()
        # A stream only goes forward: no pass will start at a prompted frame again.
        anchors = (current,) if self._streaming else (current, *bank.conditioning)
        for anchor in anchors:
            kept |= reachable_frames(
                bank.tracked, scores, anchor, reach=MEMORY_REACH,
                threshold=self.selection_threshold,
            )  # fmt: skip
        if len(kept) == len(bank.tracked):
            return bank
        return replace(bank, tracked=MappingProxyType({t: bank.tracked[t] for t in kept}))

    def _updated_prompt(
        self,
        state: _TrackedObject,
        encoded: EncodedFrame,
        points: PointsLike | None,
        labels: Any,
        box: Any,
    ) -> _FramePrompt:
        """The frame's prompt with these clicks added (a box starts it afresh)."""
        if points is None and box is None:
            raise InputError("empty prompt: give points, a box or a mask")
        checked = check_interactive_prompt(
            points=points, point_labels=labels, box=box, boxes=None, mask_input=None,
            image_size=encoded.size, model_size=self.encoder.model_size,
            mask_size=self.encoder.mask_size,
        )  # fmt: skip
        del checked  # checked for its errors; the prompt is encoded with the earlier clicks
        earlier = state.prompts.get(encoded.index)
        prompt = _FramePrompt() if earlier is None or box is not None else earlier
        new_points = [] if points is None else np.asarray(points, dtype=float).tolist()
        new_labels = [1] * len(new_points) if labels is None else [int(v) for v in labels]
        return _FramePrompt(
            points=prompt.points + new_points,
            labels=prompt.labels + new_labels,
            box=box if box is not None else prompt.box,
        )

    def _prompted_output(
        self, state: _TrackedObject, encoded: EncodedFrame, prompt: _FramePrompt
    ) -> StepOutput:
        points, labels = prompt.points, prompt.labels
        if len(points) > MAX_PROMPT_POINTS:
            half = MAX_PROMPT_POINTS // 2
            points = points[:half] + points[-half:]
            labels = labels[:half] + labels[-half:]
        encoded_prompt = check_interactive_prompt(
            points=points or None, point_labels=labels or None, box=prompt.box, boxes=None,
            mask_input=None, image_size=encoded.size, model_size=self.encoder.model_size,
            mask_size=self.encoder.mask_size,
        ).to(self.encoder.device)  # fmt: skip
        previous = self._previous_logits(state, encoded)
        return prompted_step(
            self.encoder.head,
            encoded.tracker,
            encoded_prompt.point_coords,
            encoded_prompt.point_labels,
            previous,
        )

    def _previous_logits(self, state: _TrackedObject, encoded: EncodedFrame) -> Tensor | None:
        """The object's low-res logits on this frame that correction clicks refine: a mask
        prompt's are its ±1024 logits at 4G, as Meta consolidates them."""
        index = encoded.index
        if index in state.masks:
            mask = state.masks[index][None, None].to(self.encoder.device)
            return mask_prompt_memory_logits(encoded.tracker, mask)
        if index in state.conditioning:
            return state.conditioning[index].mask_logits
        logits = state.logits.get(index)
        if logits is None:
            return None
        return logits.to(self.encoder.device, torch.float32)[None, None]

    def _frame_result(self, index: int, size: tuple[int, int]) -> TrackedFrame:
        ids: list[int] = []
        masks: list[Tensor] = []
        scores: list[float] = []
        for object_id, state in sorted(self._objects.items()):
            if index in state.masks:
                mask, score = (
                    state.masks[index],
                    float(state.conditioning[index].object_score_logits),
                )
            elif index in state.conditioning:
                output = state.conditioning[index]
                mask = resized_masks(output.mask_logits[:, 0].float(), size)[0].cpu()
                score = float(output.object_score_logits)
            elif index in state.logits:
                mask = resized_masks(state.logits[index][None].float(), size)[0]
                score = state.scores[index]
            else:
                continue
            if bool(mask.any()):
                ids.append(object_id)
                masks.append(mask.cpu())
                scores.append(score)
        stacked = torch.stack(masks) if masks else torch.zeros((0, *size), dtype=torch.bool)
        return TrackedFrame(
            index=index,
            object_ids=np.asarray(ids, dtype=np.int64),
            masks=stacked.numpy(),
            boxes=boxes_from_masks(stacked).numpy().astype(np.float32),
            scores=torch.sigmoid(torch.tensor(scores, dtype=torch.float32)).numpy(),
            image_size=size,
        )

    def _check_frame(self, frame: object) -> int:
        if isinstance(frame, bool) or not isinstance(frame, (int, np.integer)) or frame < 0:
            raise InputError(f"frame: expected a frame index (an int >= 0), got {frame!r}")
        index = int(frame)
        count = self.frames.count
        if count is not None and index >= count:
            raise InputError(f"frame: {index} is not a frame of the video; valid: 0..{count - 1}")
        if self._streaming:
            current = None if self._current is None else self._current.index
            if index not in (current, self._next_stream_frame):
                raise InputError(
                    f"frame: a stream is read once, in order; frame {index} cannot be reached "
                    f"(the current frame is {current}, the next {self._next_stream_frame})"
                )
        return index

    def _encoded(self, index: int) -> EncodedFrame:
        encoded = self._encoded_or_none(index)
        if encoded is None:
            raise InputError(f"frame: {index} is not a frame of the video (it ended before)")
        return encoded

    def _encoded_or_none(self, index: int) -> EncodedFrame | None:
        if self._current is not None and self._current.index == index:
            return self._current
        rgb = self.frames.read(index)
        if rgb is None:
            return None
        self._next_stream_frame = index + 1
        self._current = self.encoder.encode(index, rgb)
        return self._current


def _check_object_id(object_id: object) -> int:
    if isinstance(object_id, bool) or not isinstance(object_id, (int, np.integer)):
        raise InputError(f"object_id: expected an int >= 0, got {object_id!r}")
    if object_id < 0:
        raise InputError(f"object_id: expected an int >= 0, got {object_id}")
    return int(object_id)


def _check_mask(mask: object, size: tuple[int, int]) -> Tensor:
    array = mask.detach().cpu().numpy() if isinstance(mask, Tensor) else np.asarray(mask)
    if array.shape != size:
        raise InputError(f"mask: expected the frame's size {size} (H, W), got {array.shape}")
    if array.dtype != np.bool_:
        if not np.issubdtype(array.dtype, np.number) or not np.all((array >= 0) & (array <= 1)):
            raise InputError("mask: expected a bool array or values in [0, 1]")
        array = array > 0.5
    return torch.from_numpy(np.ascontiguousarray(array))
