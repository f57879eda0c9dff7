"""Overlapping tracks before the memory write: occlusion suppression, the pixel-wise argmax and
the suppression of masks it shrinks, the object scores the memory encoder is given.

Meta's order on a frame (``run_tracker_update_planning_phase`` then ``_tracker_update_memories``,
sam3 0.1.4): the propagated low-resolution logits of tracks that :func:`occlusion_suppression`
picks are set to ``suppressed_mask_logit`` everywhere (:func:`blank_masks`; this also empties
them in the frame's output); all logits are resized bilinearly to the memory encoder's input
(1152² for SAM 3); :func:`suppress_shrunk_masks`; :func:`memory_object_logits`.
"""

from __future__ import annotations

import torch

from sam3lib.errors import InputError
from sam3lib.postprocess._checks import check_float_tensor, check_masks
from sam3lib.postprocess.boxes import mask_iou
from sam3lib.video.tracking_config import TrackingConfig

__all__ = [
    "ALWAYS_OCCLUDED",
    "NEVER_OCCLUDED",
    "blank_masks",
    "keep_highest_per_pixel",
    "memory_object_logits",
    "occlusion_suppression",
    "suppress_shrunk_masks",
]

_DEFAULT = TrackingConfig()

NEVER_OCCLUDED = -1
"""Last-occluded frame of a track never seen empty or suppressed."""
ALWAYS_OCCLUDED = 1 << 62
"""Last-occluded frame given to a track hot start removes on its first tracked frame: later
than any frame (Meta uses 100 000, "larger than any possible frame index")."""


def occlusion_suppression(
    track_masks: torch.Tensor,
    last_occluded: torch.Tensor,
    config: TrackingConfig = _DEFAULT,
    *,
    reverse: bool = False,
) -> torch.Tensor:
    """Which tracks to blank because they overlap a track occluded less recently.

    Meta ``_get_objects_to_suppress_based_on_most_recently_occluded``: for two tracks a, b
    with mask IoU >= ``occlusion_iou``, a is blanked when it was occluded (empty or blanked)
    more recently than b (``last_occluded[a] > last_occluded[b]``; ``<`` when tracking in
    reverse) and b has been occluded at some time (``last_occluded[b] != NEVER_OCCLUDED``).
    So a track never occluded protects neither itself nor its partner: two overlapping tracks
    of which one was never occluded both stay. transformers is the same, per text prompt.

    Args:
        track_masks: (T, h, w) bool, the propagated tracker logits > 0.
        last_occluded: (T,) int64, each track's last frame empty or blanked before this one,
            :data:`NEVER_OCCLUDED` if none.
        config: ``occlusion_iou`` (0 blanks nothing).
        reverse: tracking towards earlier frames.

    Returns:
        (T,) bool, the tracks to blank.

    Raises:
        InputError: wrong types or shapes.

    Example:
        >>> masks = torch.ones(2, 4, 4, dtype=torch.bool)
        >>> occlusion_suppression(masks, torch.tensor([5, 2])).tolist()
        [True, False]
        >>> occlusion_suppression(masks, torch.tensor([5, NEVER_OCCLUDED])).tolist()
        [False, False]
    """
    check_masks(track_masks, "track_masks")
    if (
        not isinstance(last_occluded, torch.Tensor)
        or last_occluded.shape != track_masks.shape[:1]
        or last_occluded.is_floating_point()
    ):
        raise InputError(f"last_occluded: expected ({track_masks.shape[0]},) integer frames")
    if track_masks.shape[0] <= 1 or config.occlusion_iou == 0:
        return torch.zeros(track_masks.shape[0], dtype=torch.bool, device=track_masks.device)
    # IoU is symmetric, so testing every ordered pair covers Meta's two upper-triangle passes.
    overlapping = mask_iou(track_masks, track_masks) >= config.occlusion_iou
    last = last_occluded.to(track_masks.device)
    mine, theirs = last.unsqueeze(1), last.unsqueeze(0)
    more_recent = mine < theirs if reverse else mine > theirs
    return (overlapping & more_recent & (theirs > NEVER_OCCLUDED)).any(dim=1)


def blank_masks(
    mask_logits: torch.Tensor, blanked: torch.Tensor, config: TrackingConfig = _DEFAULT
) -> torch.Tensor:
    """Sets every logit of the ``blanked`` masks to ``suppressed_mask_logit`` (−10).

    Args:
        mask_logits: (T, h, w) float.
        blanked: (T,) bool.
        config: ``suppressed_mask_logit``.

    Returns:
        (T, h, w), a new tensor.

    Example:
        >>> blank_masks(torch.ones(2, 1, 1), torch.tensor([False, True])).flatten().tolist()
        [1.0, -10.0]
    """
    check_float_tensor(mask_logits, "mask_logits", 3, "(T, h, w)")
    return mask_logits.masked_fill(blanked.view(-1, 1, 1), config.suppressed_mask_logit)


def keep_highest_per_pixel(
    mask_logits: torch.Tensor, config: TrackingConfig = _DEFAULT
) -> torch.Tensor:
    """Pixel-wise non-overlap: at each pixel only the object with the highest logit (the first
    on ties) keeps its value; the others are clamped to at most ``suppressed_mask_logit``.

    Meta ``_apply_non_overlapping_constraints``; a single object is returned unchanged.

    Args:
        mask_logits: (N, H, W) float.
        config: ``suppressed_mask_logit``.

    Returns:
        (N, H, W), a new tensor.

    Example:
        >>> logits = torch.tensor([[[2.0, -1.0]], [[3.0, 1.0]]])
        >>> keep_highest_per_pixel(logits).tolist()
        [[[-10.0, -10.0]], [[3.0, 1.0]]]
    """
    check_float_tensor(mask_logits, "mask_logits", 3, "(N, H, W)")
    if mask_logits.shape[0] <= 1:
        return mask_logits.clone()
    owner = torch.argmax(mask_logits, dim=0)
    objects = torch.arange(mask_logits.shape[0], device=mask_logits.device).view(-1, 1, 1)
    floor = mask_logits.clamp(max=config.suppressed_mask_logit)
    return torch.where(owner.unsqueeze(0) == objects, mask_logits, floor)


def suppress_shrunk_masks(
    mask_logits: torch.Tensor, config: TrackingConfig = _DEFAULT
) -> torch.Tensor:
    """Leaves out of memory the masks the pixel-wise argmax would shrink too much.

    Meta ``_suppress_object_pw_area_shrinkage``, on the logits resized to the memory encoder's
    input (1152² for SAM 3): each mask's area (logit > 0) under :func:`keep_highest_per_pixel`
    over its own area (at least 1) < ``memory_min_area_kept`` (0.3: more than 70 % lost)
    clamps its logits to at most ``suppressed_mask_logit``. The others are returned as they
    were, overlaps included: the argmax only measures. An empty mask has ratio 0 and is
    clamped too, even alone. transformers does this on the 288² logits and returns a lone
    mask unchanged.

    Args:
        mask_logits: (N, H, W) float.
        config: ``memory_min_area_kept``, ``suppressed_mask_logit``.

    Returns:
        (N, H, W), a new tensor.

    Example:
        >>> logits = -torch.ones(2, 1, 10)
        >>> logits[0, 0, :] = 1.0  # ten pixels
        >>> logits[1, 0, 3:] = 2.0  # takes seven of them: 70 % lost, kept, overlap and all
        >>> (suppress_shrunk_masks(logits) > 0).sum(dim=(1, 2)).tolist()
        [10, 7]
        >>> logits[1, 0, 2] = 2.0  # takes eight: 80 % lost, left out
        >>> (suppress_shrunk_masks(logits) > 0).sum(dim=(1, 2)).tolist()
        [0, 8]
    """
    owned = keep_highest_per_pixel(mask_logits, config)
    area_before = (mask_logits > 0).sum(dim=(1, 2)).clamp(min=1)
    area_after = (owned > 0).sum(dim=(1, 2))
    kept = (area_after / area_before) >= config.memory_min_area_kept
    floor = mask_logits.clamp(max=config.suppressed_mask_logit)
    return torch.where(kept.view(-1, 1, 1), mask_logits, floor)


def memory_object_logits(
    mask_logits: torch.Tensor, config: TrackingConfig = _DEFAULT
) -> torch.Tensor:
    """The object scores given to the memory encoder: ±``memory_object_logit`` by whether the
    mask has a pixel > 0 (Meta and transformers use the area, not the tracker's score).

    Args:
        mask_logits: (N, H, W) float, after :func:`suppress_shrunk_masks`.
        config: ``memory_object_logit``.

    Returns:
        (N,) float32.

    Example:
        >>> memory_object_logits(torch.tensor([[[0.5]], [[-0.5]]])).tolist()
        [10.0, -10.0]
    """
    check_float_tensor(mask_logits, "mask_logits", 3, "(N, H, W)")
    present = (mask_logits > 0).flatten(1).any(dim=1)
    value = torch.tensor(config.memory_object_logit, device=mask_logits.device)
    return torch.where(present, value, -value)
