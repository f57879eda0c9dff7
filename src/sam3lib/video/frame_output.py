"""A frame's reported objects: which show, their boxes and scores, overlaps resolved, and the
hot-start delay before a frame is reported.

Meta's ``Sam3VideoInference.propagate_in_video`` and ``_postprocess_output`` (sam3 0.1.4).
The masks handed in are at video resolution: the tracker's low-resolution logits (hole-filled,
blanked by occlusion suppression) for tracked objects and the detector's (hole-filled) for
objects born on the frame, bilinearly resized and > 0. A re-conditioned track shows the
tracker's mask in Meta, the detection's in transformers.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import torch

from sam3lib.errors import InputError
from sam3lib.postprocess._checks import check_float_tensor, check_int, check_masks
from sam3lib.postprocess.boxes import boxes_from_masks

__all__ = ["DelayedFrames", "FrameObjects", "frame_objects", "resolve_output_overlaps"]

Item = TypeVar("Item")


@dataclass(frozen=True, eq=False)
class FrameObjects:
    """The objects reported on one frame.

    Attributes:
        object_ids: (K,) int64, increasing.
        scores: (K,) float32, each object's detection score at birth.
        boxes_xyxy: (K, 4) float32 pixel-edge boxes (x_min, y_min, x_max + 1, y_max + 1) of the
            masks before overlaps are resolved. Meta reports (x_min, y_min, x_max − x_min,
            y_max − y_min) divided by the frame's size, transformers (x_min, y_min, x_max,
            y_max) in pixels: both one pixel narrower than these.
        masks: (K, H, W) bool, overlaps resolved (may be empty where another object won).
    """

    object_ids: torch.Tensor
    scores: torch.Tensor
    boxes_xyxy: torch.Tensor
    masks: torch.Tensor


def resolve_output_overlaps(masks: torch.Tensor, overlap_scores: torch.Tensor) -> torch.Tensor:
    """Gives each pixel claimed by several objects to the one with the highest score.

    Meta ``_apply_object_wise_non_overlapping_constraints`` with background 0: a pixel stays
    in mask i when i has the highest score among the masks holding it (the first on ties) and
    that score is > 0. The scores are σ(the tracker's object logit) on this frame, or the
    detection score for an object born on it. A single mask is returned as it is.

    Args:
        masks: (N, H, W) bool.
        overlap_scores: (N,) float.

    Returns:
        (N, H, W) bool, a new tensor.

    Example:
        >>> masks = torch.tensor([[[True, True, False]], [[False, True, True]]])
        >>> resolve_output_overlaps(masks, torch.tensor([0.6, 0.9])).tolist()
        [[[True, False, False]], [[False, True, True]]]
    """
    check_masks(masks)
    check_float_tensor(overlap_scores, "overlap_scores", 1, "(N,)")
    if overlap_scores.shape[0] != masks.shape[0]:
        raise InputError(f"overlap_scores: expected {masks.shape[0]} scores")
    if masks.shape[0] <= 1:
        return masks.clone()
    scores = overlap_scores.to(device=masks.device, dtype=torch.float32).view(-1, 1, 1)
    owner = torch.argmax(torch.where(masks, scores, 0.0), dim=0)
    objects = torch.arange(masks.shape[0], device=masks.device).view(-1, 1, 1)
    return masks & (owner.unsqueeze(0) == objects) & (scores > 0)


def frame_objects(
    object_ids: Sequence[int],
    masks: torch.Tensor,
    scores: torch.Tensor,
    overlap_scores: torch.Tensor,
    hidden_ids: Collection[int] = (),
) -> FrameObjects:
    """The frame's report: empty masks and hidden objects dropped, sorted by id, boxes taken,
    then overlaps resolved among the rest.

    Args:
        object_ids: the N objects with a mask on the frame (tracked and newborn).
        masks: (N, H, W) bool at video resolution.
        scores: (N,) float, detection scores at birth.
        overlap_scores: (N,) float, see :func:`resolve_output_overlaps`.
        hidden_ids: objects not to report: every object hot start has removed by the time the
            frame is reported, and those keep-alive hides on the frame.

    Returns:
        The :class:`FrameObjects`.

    Raises:
        InputError: wrong types or inconsistent lengths.

    Example:
        >>> masks = torch.zeros(3, 4, 4, dtype=torch.bool)
        >>> masks[0, :2, :2] = masks[2, 1:, 1:] = True  # object 4 is empty
        >>> out = frame_objects([7, 4, 5], masks, torch.tensor([0.8, 0.9, 0.7]),
        ...                     torch.tensor([0.6, 0.9, 0.95]))
        >>> out.object_ids.tolist(), [round(score, 3) for score in out.scores.tolist()]
        ([5, 7], [0.7, 0.8])
        >>> out.boxes_xyxy.tolist(), int(out.masks[1].sum())
        ([[1.0, 1.0, 4.0, 4.0], [0.0, 0.0, 2.0, 2.0]], 3)
    """
    check_masks(masks)
    for name, values in (("scores", scores), ("overlap_scores", overlap_scores)):
        check_float_tensor(values, name, 1, "(N,)")
        if values.shape[0] != masks.shape[0]:
            raise InputError(f"{name}: expected {masks.shape[0]} values, got {values.shape[0]}")
    if len(object_ids) != masks.shape[0]:
        raise InputError(f"object_ids: expected {masks.shape[0]} ids, got {len(object_ids)}")
    hidden = set(hidden_ids)
    present = masks.flatten(1).any(dim=1).tolist()
    order = sorted(
        (object_id, index)
        for index, object_id in enumerate(object_ids)
        if present[index] and object_id not in hidden
    )
    keep = torch.tensor([index for _, index in order], dtype=torch.int64, device=masks.device)
    shown = masks[keep]
    return FrameObjects(
        object_ids=torch.tensor([object_id for object_id, _ in order], dtype=torch.int64),
        scores=scores.to(masks.device)[keep].to(torch.float32),
        boxes_xyxy=boxes_from_masks(shown),
        masks=resolve_output_overlaps(shown, overlap_scores.to(masks.device)[keep]),
    )


class DelayedFrames(Generic[Item]):
    """Holds frames back while hot start may still remove their objects (Meta's hot-start
    buffer).

    Each pushed frame is buffered; once ``delay`` are held the oldest is released, so the
    frame pushed at step t comes out at step t + delay − 1 (14 frames later for SAM 3), and
    the last push releases everything. Build each released frame's :class:`FrameObjects` then,
    hiding every object removed by that time. ``delay`` 0 releases each frame at once.

    Example:
        >>> frames = DelayedFrames[int](3)
        >>> [frames.push(t, last=(t == 4)) for t in range(5)]
        [[], [], [0], [1], [2, 3, 4]]
    """

    def __init__(self, delay: int) -> None:
        self.delay = check_int(delay, "delay", 0)
        self._held: list[Item] = []

    def push(self, item: Item, *, last: bool = False) -> list[Item]:
        """Buffers ``item``; returns the frames released, oldest first."""
        if self.delay == 0:
            return [item]
        self._held.append(item)
        if last:
            released, self._held = self._held, []
            return released
        if len(self._held) >= self.delay:
            return [self._held.pop(0)]
        return []

    def flush(self) -> list[Item]:
        """Releases every held frame, oldest first (the video ended)."""
        released, self._held = self._held, []
        return released
