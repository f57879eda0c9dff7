"""Text tracking: every object matching a noun phrase found on each frame by the detector and
followed by the tracker with a stable id (Meta ``Sam3VideoInference``, sam3 0.1.4).

Per frame, forward (``SAM3_TRACKER_FACTS.md`` §3 "Text video"):

1. the detector on the frame (one ViT pass also feeds the tracker): scores clipped to
   [0.001, 0.999] as Meta's inverse-sigmoid round trip does, greedy mask NMS;
2. every tracked object one step forward (no memory written yet), small holes and specks
   cleaned (:mod:`~sam3lib.video.mask_cleanup`);
3. association, admission, hot start, keep-alive, occlusion suppression
   (:mod:`~sam3lib.video.association`, :class:`~sam3lib.video.lifecycle.TrackLifecycle`),
   re-conditioning of confirmed tracks on every 16th frame;
4. the memory write of the surviving tracks: logits bilinearly to 16·G, masks the pixel-wise
   argmax would shrink by > 70 % left out, object score ±10 by area, sigmoid path
   (:mod:`~sam3lib.video.overlaps`); a re-conditioned track's frame becomes a conditioning
   frame whose pointer comes from the detection's mask (and, as in Meta's tracker state, a
   conditioning frame with its tracked pointer for every object born on the same frame);
   the frame still reports the tracker's mask;
5. newborns: the detection's logits bilinearly to 16·G, > 0, as a mask prompt; their
   memories written as Meta's predictor writes a mask-prompted frame's (via the video's
   size, the frame's newborns together);
6. the frame is reported once hot start can no longer remove its objects (14 frames later
   for SAM 3; the rest at the end), overlaps given to the highest score
   (:mod:`~sam3lib.video.frame_output`).

Meta's memory selection (:mod:`~sam3lib.video.memory_selection`) is on by default
(``TrackingConfig.memory_selection_threshold``), each frame's score the mean over the objects
born on the same frame (Meta's tracker states). Not modelled: several prompts at once
(transformers allows them, Meta restarts on a new text).

Memory is bounded: an object keeps its four latest conditioning frames and the tracked frames
a forward pass can still read (the last 16; with memory selection also the 15 latest that
pass it), and at most 15 reported frames wait.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from sam3lib.errors import InputError
from sam3lib.interactive.predictor import resized_masks
from sam3lib.model.outputs import TextFeatures
from sam3lib.postprocess.selection import detection_scores
from sam3lib.video.association import (
    associate,
    limit_new_detections,
    nms_detections,
    reconditioning_candidates,
)
from sam3lib.video.frame_encoder import EncodedFrame, FrameEncoder
from sam3lib.video.frame_output import DelayedFrames, frame_objects
from sam3lib.video.frames import VideoFrames
from sam3lib.video.lifecycle import TrackLifecycle
from sam3lib.video.mask_cleanup import fill_holes_and_specks
from sam3lib.video.memory_bank import MAX_CONDITIONING_FRAMES, FrameMemory, MemoryBank
from sam3lib.video.memory_selection import object_selection_scores, reachable_frames
from sam3lib.video.overlaps import blank_masks, memory_object_logits, suppress_shrunk_masks
from sam3lib.video.result import TrackedFrame
from sam3lib.video.tracker_step import (
    StepOutput,
    encode_mask_memory,
    encode_prompted_memories,
    mask_prompt_memory_logits,
    mask_prompt_step,
    tracked_step,
)
from sam3lib.video.tracking_config import TrackingConfig

__all__ = ["TextTracker"]

SCORE_EPS = 1e-3  # Meta's inverse_sigmoid(eps=1e-3) then sigmoid clips scores to [eps, 1-eps]
MEMORY_REACH = 16  # frames back a tracked frame reads: max(7 memories, 16 pointers)


@dataclass
class _Pending:
    """A processed frame waiting out the hot-start delay (low-res logits, on the CPU)."""

    index: int
    size: tuple[int, int]
    object_ids: list[int]
    logits: Tensor  # (N, m, m) float32
    scores: Tensor  # (N,) birth scores
    overlap_scores: Tensor  # (N,)
    hidden: frozenset[int]
    timings: dict[str, float] = field(default_factory=dict)


class TextTracker:
    """Finds and tracks every instance of a text prompt through a video.

    Args:
        encoder: runs the model (:class:`~sam3lib.video.frame_encoder.FrameEncoder`).
        frames: the video (:func:`~sam3lib.video.frames.open_frames`).
        text: the prompt's text features (one prompt).
        config: thresholds (:class:`~sam3lib.video.tracking_config.TrackingConfig`).
        state_device: where the objects' memories are kept (the CPU while the model runs on
            a GPU); None: on the model's device.

    Example:
        >>> tracker = TextTracker(encoder, frames, text, TrackingConfig())  # doctest: +SKIP
        >>> for frame in tracker.run():  # doctest: +SKIP
        ...     frame.index, frame.object_ids
    """

    def __init__(
        self,
        encoder: FrameEncoder,
        frames: VideoFrames,
        text: TextFeatures,
        config: TrackingConfig,
        state_device: torch.device | None = None,
    ) -> None:
        if text.features.shape[0] != 1:
            raise InputError("prompt: text tracking takes one text prompt")
        self.encoder = encoder
        self.frames = frames
        self.text = text
        self.config = config
        self.state_device = state_device
        self._removed_by_user: set[int] = set()
        self._lifecycle: TrackLifecycle | None = None
        self._banks: dict[int, MemoryBank] = {}

    @property
    def object_ids(self) -> tuple[int, ...]:
        """Objects tracked at the current frame of the running pass."""
        return () if self._lifecycle is None else self._lifecycle.object_ids

    def remove(self, object_id: int) -> None:
        """Stops tracking an object and hides it in frames not yet reported; a later pass
        (iterating again) removes it as soon as it is found.

        Raises:
            InputError: ``object_id`` is not tracked now and was never removed.
        """
        if isinstance(object_id, bool) or not isinstance(object_id, (int, np.integer)):
            raise InputError(f"object_id: expected an int, got {object_id!r}")
        object_id = int(object_id)
        if self._lifecycle is not None and object_id in self._lifecycle.object_ids:
            self._lifecycle.remove(object_id)
            self._banks.pop(object_id, None)
        elif object_id not in self._removed_by_user:
            known = ", ".join(map(str, self.object_ids)) or "none"
            raise InputError(f"object_id: no tracked object {object_id} (tracked: {known})")
        self._removed_by_user.add(object_id)

    def run(self) -> Iterator[TrackedFrame]:
        """One pass over the video from frame 0: yields each frame as it is reported, in
        order (the last ``hotstart_frames − 1`` at the end)."""
        self._lifecycle = TrackLifecycle(self.config)
        self._banks = {}
        delay = DelayedFrames[_Pending](self.config.hotstart_frames)
        index = 0
        while (rgb := self.frames.read(index)) is not None:
            started = time.perf_counter()
            encoded = self.encoder.encode(index, rgb)
            timings = {"encode_image": self._elapsed(started)}
            pending = self._step(encoded, timings)
            for ready in delay.push(pending):
                yield self._report(ready)
            index += 1
        if index == 0:
            raise InputError("source: the video has no frames")
        for ready in delay.flush():
            yield self._report(ready)

    # --- one frame -------------------------------------------------------------------------

    def _step(self, encoded: EncodedFrame, timings: dict[str, float]) -> _Pending:
        assert self._lifecycle is not None
        lifecycle, config, head = self._lifecycle, self.config, self.encoder.head
        index, features = encoded.index, encoded.tracker
        started = time.perf_counter()
        detection_logits, detection_scores_ = self._detect(encoded)
        timings["detect"] = self._elapsed(started)

        started = time.perf_counter()
        track_ids = lifecycle.object_ids
        with self.encoder.running():
            steps = [
                tracked_step(
                    head, features, self._banks[i], index, self.frames.count,
                    selection_threshold=config.memory_selection_threshold,
                )
                for i in track_ids
            ]  # fmt: skip
        selection = self._selection_scores(track_ids, steps)
        mask_size = self.encoder.mask_size
        track_logits = fill_holes_and_specks(
            torch.cat([s.mask_logits[:, 0] for s in steps])
            if steps
            else torch.zeros(0, mask_size, mask_size, device=self.encoder.device),
            config.fill_hole_area,
        )
        track_object_logits = (
            torch.cat([s.object_score_logits[:, 0] for s in steps])
            if steps
            else torch.zeros(0, device=self.encoder.device)
        )
        timings["track"] = self._elapsed(started)

        association = associate(track_logits > 0, detection_logits > 0, detection_scores_, config)
        admitted = limit_new_detections(
            association.new_detections, detection_scores_, len(track_ids), config
        )
        recondition = reconditioning_candidates(
            index, association, detection_scores_, track_object_logits, config
        )
        update = lifecycle.step(index, association, track_logits > 0, admitted, detection_scores_)
        track_logits = blank_masks(track_logits, update.blanked, config)
        for object_id in update.removed_ids:
            self._banks.pop(object_id, None)

        started = time.perf_counter()
        surviving = [row for row, i in enumerate(track_ids) if i not in update.removed_ids]
        with self.encoder.running():
            self._write_track_memories(
                encoded, [track_ids[r] for r in surviving], track_logits[surviving],
                [steps[r].pointer for r in surviving], selection,
                {track_ids[r]: detection_logits[d] for r, d in recondition.items()
                 if r in surviving},
            )  # fmt: skip
            newborn_logits = fill_holes_and_specks(
                detection_logits[admitted], config.fill_hole_area
            )
            self._start_objects(encoded, update.new_object_ids, detection_logits[admitted])
        timings["memory"] = self._elapsed(started)
        for object_id in set(update.new_object_ids) & self._removed_by_user:
            lifecycle.remove(object_id)
            self._banks.pop(object_id, None)

        object_ids = [*track_ids, *update.new_object_ids]
        born_scores = detection_scores_[admitted]
        return _Pending(
            index=index,
            size=encoded.size,
            object_ids=object_ids,
            logits=torch.cat((track_logits, newborn_logits)).float().cpu(),
            scores=torch.tensor([lifecycle.birth_score(i) for i in object_ids]),
            overlap_scores=torch.cat((track_object_logits.sigmoid(), born_scores)).float().cpu(),
            hidden=update.hidden_ids,
            timings=timings,
        )

    def _detect(self, encoded: EncodedFrame) -> tuple[Tensor, Tensor]:
        """The frame's kept detections: (D, m, m) mask logits and (D,) scores."""
        outputs = self.encoder.backend.decode(encoded.image, self.text)
        scores = detection_scores(outputs.query_logits[0], outputs.presence_logit[0])
        scores = scores.clamp(SCORE_EPS, 1 - SCORE_EPS)
        logits = outputs.mask_logits[0]
        kept = nms_detections(logits > 0, scores, self.config)
        return logits[kept], scores[kept]

    def _write_track_memories(
        self,
        encoded: EncodedFrame,
        object_ids: list[int],
        logits: Tensor,
        pointers: list[Tensor],
        selection: dict[int, float],
        reconditioned: dict[int, Tensor],
    ) -> None:
        if not object_ids:
            return
        head, features = self.encoder.head, encoded.tracker
        size = features.high_res_x4.shape[-1] * 4  # the memory encoder's 16·G input
        high_res = F.interpolate(
            logits[:, None].float(), size=(size, size), mode="bilinear", align_corners=False
        )[:, 0]
        high_res = suppress_shrunk_masks(high_res, self.config)
        scores = memory_object_logits(high_res, self.config)[:, None]
        memories = encode_mask_memory(head, features, high_res[:, None], scores, prompted=False)
        # Meta re-prompts a track inside its tracker state (the objects born on one frame):
        # the frame becomes a conditioning frame for all of them, the others' pointers kept.
        assert self._lifecycle is not None
        first_frame = self._lifecycle.first_frame
        conditioned_births = {first_frame(i) for i in reconditioned}
        for row, object_id in enumerate(object_ids):
            pointer = pointers[row]
            detection = reconditioned.get(object_id)
            if detection is not None:
                mask = _prompt_mask(detection, size)
                pointer = mask_prompt_step(head, features, mask).pointer
            entry = FrameMemory(
                memories[row : row + 1], pointer, scores[row : row + 1], selection[object_id]
            )
            bank = self._banks[object_id].with_frame(
                encoded.index, entry, conditioning=first_frame(object_id) in conditioned_births
            )
            self._banks[object_id] = self._forward_window(bank, encoded.index)

    def _selection_scores(
        self, track_ids: tuple[int, ...], steps: list[StepOutput]
    ) -> dict[int, float]:
        """Each track's frame score for memory selection: the mean over the objects born on
        the same frame, which Meta tracks as one batch (one tracker state per birth frame)."""
        assert self._lifecycle is not None
        if not steps:
            return {}
        scores = torch.cat(
            [object_selection_scores(s.object_score_logits, s.iou_scores) for s in steps]
        ).tolist()
        groups: dict[int, list[float]] = {}
        for object_id, score in zip(track_ids, scores, strict=True):
            groups.setdefault(self._lifecycle.first_frame(object_id), []).append(score)
        return {
            object_id: float(np.mean(groups[self._lifecycle.first_frame(object_id)]))
            for object_id in track_ids
        }

    def _forward_window(self, bank: MemoryBank, current: int) -> MemoryBank:
        """What a forward pass can still read: the latest conditioning frames (the selection
        takes the nearest, and later ones only get nearer), the tracked frames of the last
        16, and with memory selection the 15 latest that pass it."""
        latest = set(sorted(bank.conditioning)[-MAX_CONDITIONING_FRAMES:])
        conditioning = {
            t: e for t, e in bank.conditioning.items() if t in latest or current - t < MEMORY_REACH
        }
        reachable = reachable_frames(
            bank.tracked, bank.selection_scores, current, reach=MEMORY_REACH,
            threshold=self.config.memory_selection_threshold, sides=(-1,),
        )  # fmt: skip
        tracked = {t: e for t, e in bank.tracked.items() if t in reachable}
        if len(conditioning) == len(bank.conditioning) and len(tracked) == len(bank.tracked):
            return bank
        return replace(bank, conditioning=conditioning, tracked=tracked)

    def _start_objects(
        self, encoded: EncodedFrame, object_ids: tuple[int, ...], logits: Tensor
    ) -> None:
        """Newborns as Meta adds them (``add_new_mask`` per object into one new tracker state,
        then its ``propagate_in_video_preflight``): each detection's logits bilinearly to
        16·G, > 0, as the mask prompt (pointer from it); for the memory, that mask resized
        with antialiasing to the video's size, > 0.5, a later newborn's mask taking its
        pixels from the earlier ones', then as a mask-prompted frame's logits, the newborns
        encoded together (:func:`~sam3lib.video.tracker_step.encode_prompted_memories`)."""
        if not object_ids:
            return
        head, features = self.encoder.head, encoded.tracker
        masks = torch.cat([_prompt_mask(row, features.high_res_x4.shape[-1] * 4) for row in logits])
        outputs = [mask_prompt_step(head, features, mask[None]) for mask in masks]
        video_masks = F.interpolate(masks, size=encoded.size, mode="bilinear", antialias=True) > 0.5
        for later in range(1, len(video_masks)):
            video_masks[:later] &= ~video_masks[later]
        scores = torch.cat([output.object_score_logits for output in outputs])
        memories = encode_prompted_memories(
            head, features, mask_prompt_memory_logits(features, video_masks.float()), scores
        )
        for row, (object_id, output) in enumerate(zip(object_ids, outputs, strict=True)):
            entry = FrameMemory(memories[row : row + 1], output.pointer, scores[row : row + 1])
            bank = MemoryBank(device=self.state_device)
            self._banks[object_id] = bank.with_frame(encoded.index, entry, conditioning=True)

    def _report(self, pending: _Pending) -> TrackedFrame:
        assert self._lifecycle is not None
        started = time.perf_counter()
        masks = resized_masks(pending.logits, pending.size)
        shown = frame_objects(
            pending.object_ids,
            masks,
            pending.scores,
            pending.overlap_scores,
            hidden_ids=self._lifecycle.removed_ids | pending.hidden,
        )
        timings = {**pending.timings, "postprocess": time.perf_counter() - started}
        return TrackedFrame(
            index=pending.index,
            object_ids=shown.object_ids.numpy(),
            masks=shown.masks.numpy(),
            boxes=shown.boxes_xyxy.numpy().astype(np.float32),
            scores=shown.scores.numpy(),
            image_size=pending.size,
            timings=timings,
        )

    def _elapsed(self, started: float) -> float:
        if self.encoder.device.type == "cuda":
            torch.cuda.synchronize(self.encoder.device)
        return time.perf_counter() - started


def _prompt_mask(logits: Tensor, size: int) -> Tensor:
    """A detection's (m, m) logits as Meta's mask prompt: bilinear to 16·G, then > 0."""
    resized = F.interpolate(
        logits[None, None].float(), size=(size, size), mode="bilinear", align_corners=False
    )
    return (resized > 0).float()
