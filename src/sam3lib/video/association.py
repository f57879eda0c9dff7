"""One frame's detections against the tracked objects: NMS, association, admission of new
objects, re-conditioning.

Pure functions of bool masks at the tracker's low resolution (288² for SAM 3; binarise logits
with ``> 0``), following Meta's ``Sam3VideoBase`` (sam3 0.1.4): ``nms_masks`` in its detector,
``_associate_det_trk``, ``_drop_new_det_with_obj_limit`` and the periodic branch of
``run_tracker_update_planning_phase``. Tracks are addressed by their position in the list of
tracked objects, detections by their position after :func:`nms_detections`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from sam3lib.errors import InputError
from sam3lib.postprocess._checks import check_float_tensor, check_masks
from sam3lib.postprocess.boxes import mask_iou, mask_nms
from sam3lib.video.tracking_config import TrackingConfig

__all__ = [
    "Association",
    "associate",
    "limit_new_detections",
    "nms_detections",
    "reconditioning_candidates",
]

_DEFAULT = TrackingConfig()


def nms_detections(
    masks: torch.Tensor, scores: torch.Tensor, config: TrackingConfig = _DEFAULT
) -> torch.Tensor:
    """The detections a frame keeps: score above the threshold, then greedy mask NMS.

    Meta's order: detections with score > ``detection_score_threshold`` are visited by
    descending score and one is dropped when its mask IoU with an already kept one is
    > ``nms_iou_threshold``; ``nms_iou_threshold == 0`` keeps every detection above the score
    threshold. Tied scores are visited lower index first, as Meta's CUDA kernel (a stable
    sort); its CPU fallback (numpy ``argsort``) visits ties in no defined order.
    transformers skips NMS altogether when the ``kernels`` package cannot load its CUDA code.

    Args:
        masks: (N, h, w) bool, the detector's mask logits > 0.
        scores: (N,) float detection probabilities.
        config: thresholds.

    Returns:
        (K,) int64 indices of the kept detections in increasing order (the detector's query
        order, which is the order new objects are numbered in).

    Raises:
        InputError: wrong types or shapes.

    Example:
        >>> masks = torch.zeros(3, 4, 4, dtype=torch.bool)
        >>> masks[0, :2] = masks[1, :3] = masks[2, 3] = True
        >>> nms_detections(masks, torch.tensor([0.6, 0.9, 0.4])).tolist()
        [1]
    """
    check_masks(masks)
    _check_scores(scores, masks.shape[0], "scores")
    valid = torch.nonzero(scores > config.detection_score_threshold).flatten()
    if config.nms_iou_threshold == 0 or valid.numel() == 0:
        return valid.to(masks.device)
    valid = valid.to(masks.device)
    kept = mask_nms(masks[valid], scores.to(masks.device)[valid], config.nms_iou_threshold)
    return torch.sort(valid[kept]).values


@dataclass(frozen=True, eq=False)
class Association:
    """How a frame's D detections and T tracks relate (Meta ``_associate_det_trk``).

    Attributes:
        ious: (D, T) float32 mask IoU of every detection with every track.
        track_matched: (T,) bool, some detection has IoU >= ``track_match_iou`` with it.
        track_empty: (T,) bool, the track's mask has no pixel on this frame.
        new_detections: (K,) int64 detections that start objects, increasing.
        detection_tracks: for each detection, the tracks (increasing) it touches, IoU >=
            ``detection_match_iou``; several tracks on one detection are duplicates.
    """

    ious: torch.Tensor
    track_matched: torch.Tensor
    track_empty: torch.Tensor
    new_detections: torch.Tensor
    detection_tracks: tuple[tuple[int, ...], ...]

    @property
    def track_unmatched(self) -> torch.Tensor:
        """(T,) bool: non-empty and not matched, the frames hot start counts."""
        return ~self.track_matched & ~self.track_empty

    @property
    def touched_tracks(self) -> set[int]:
        """Tracks touched by at least one detection (keep-alive counts them as matched)."""
        return {track for tracks in self.detection_tracks for track in tracks}


def associate(
    track_masks: torch.Tensor,
    detection_masks: torch.Tensor,
    detection_scores: torch.Tensor,
    config: TrackingConfig = _DEFAULT,
) -> Association:
    """Matches a frame's detections with the tracked objects' masks.

    A track is matched when some detection has IoU >= ``track_match_iou`` with it (many tracks
    may match one detection). A detection starts a new object when its score is >=
    ``new_object_score`` and its IoU with every track is < ``detection_match_iou``; on a frame
    without tracks every detection starts one, whatever its score (Meta and transformers).
    transformers is the same except that it zeroes IoUs across different text prompts.

    Args:
        track_masks: (T, h, w) bool, the propagated (hole-filled) tracker logits > 0.
        detection_masks: (D, h, w) bool, the kept detections' mask logits > 0, same (h, w)
            (Meta resizes the larger to the smaller first; resize before calling).
        detection_scores: (D,) float.
        config: thresholds.

    Returns:
        The :class:`Association`.

    Raises:
        InputError: wrong types or shapes, or different mask sizes.

    Example:
        >>> tracks = torch.zeros(1, 8, 8, dtype=torch.bool)
        >>> tracks[0, :4, :4] = True
        >>> detections = torch.zeros(2, 8, 8, dtype=torch.bool)
        >>> detections[0, :4, :3] = True  # IoU 0.75 with the track
        >>> detections[1, 5:, 5:] = True  # far from it
        >>> result = associate(tracks, detections, torch.tensor([0.9, 0.8]))
        >>> result.track_matched.tolist(), result.new_detections.tolist()
        ([True], [1])
    """
    check_masks(track_masks, "track_masks")
    check_masks(detection_masks, "detection_masks")
    _check_scores(detection_scores, detection_masks.shape[0], "detection_scores")
    if track_masks.shape[1:] != detection_masks.shape[1:]:
        raise InputError(
            f"detection_masks: expected the tracks' (h, w) {tuple(track_masks.shape[1:])}, "
            f"got {tuple(detection_masks.shape[1:])}"
        )
    num_detections = detection_masks.shape[0]
    device = track_masks.device
    track_empty = ~track_masks.flatten(1).any(dim=1)
    ious = mask_iou(detection_masks.to(device), track_masks)
    touches = ious >= config.detection_match_iou
    if track_masks.shape[0] == 0:
        new_detections = torch.arange(num_detections, device=device)
    else:
        scores = detection_scores.to(device)
        is_new = (scores >= config.new_object_score) & ~touches.any(dim=1)
        new_detections = torch.nonzero(is_new).flatten()
    return Association(
        ious=ious,
        track_matched=(ious >= config.track_match_iou).any(dim=0),
        track_empty=track_empty,
        new_detections=new_detections,
        detection_tracks=tuple(tuple(row.nonzero().flatten().tolist()) for row in touches),
    )


def limit_new_detections(
    new_detections: torch.Tensor,
    detection_scores: torch.Tensor,
    num_tracked: int,
    config: TrackingConfig = _DEFAULT,
) -> torch.Tensor:
    """The new detections admitted under ``max_objects`` (Meta ``_drop_new_det_with_obj_limit``).

    When ``num_tracked`` plus the new ones exceed the limit, the highest-scoring ones that fit
    are kept, in descending score (ties lower index first), and new objects are numbered in
    that order; otherwise ``new_detections`` is returned unchanged.

    Args:
        new_detections: (K,) int64 detection indices (:attr:`Association.new_detections`).
        detection_scores: (D,) float, all of the frame's detections.
        num_tracked: objects tracked before this frame.
        config: ``max_objects``.

    Returns:
        (K',) int64 detection indices, K' <= K.

    Example:
        >>> config = TrackingConfig(max_objects=3)
        >>> limit_new_detections(torch.tensor([0, 2, 3]), torch.tensor([.7, .5, .8, .9]), 1, config)
        tensor([3, 2])
    """
    if config.max_objects is None or num_tracked + new_detections.numel() <= config.max_objects:
        return new_detections
    room = max(config.max_objects - num_tracked, 0)
    scores = detection_scores.to(new_detections.device)[new_detections]
    order = torch.argsort(scores, descending=True, stable=True)
    return new_detections[order[:room]]


def reconditioning_candidates(
    frame_index: int,
    association: Association,
    detection_scores: torch.Tensor,
    track_object_logits: torch.Tensor,
    config: TrackingConfig = _DEFAULT,
) -> dict[int, int]:
    """Tracks to re-prompt with a detection's mask on this frame, and which detection.

    Only on frames with ``frame_index % recondition_every == 0``. A detection qualifies when
    its score is >= ``recondition_detection_score``, it is not new and its best IoU over the
    tracks is >= ``recondition_iou``; it is paired with that best track (lowest index on ties),
    a later detection replacing an earlier one for the same track. The track is re-prompted
    only if its tracker object-score logit on this frame is > ``recondition_object_logit``.

    Meta gives the tracker the detection's mask (bilinear to 1152², > 0) as a mask prompt,
    which makes the frame a conditioning frame (pointer from that prompt); the memory write
    that follows then overwrites the frame's memory features with the tracker mask's, and the
    frame still outputs the tracker's mask. transformers (``recondition_on_trk_masks=True``)
    stores the tracker's own mask as the conditioning memory and outputs the detection's mask.

    Args:
        frame_index: index of the frame in the video.
        association: this frame's :class:`Association`.
        detection_scores: (D,) float.
        track_object_logits: (T,) float, the tracker's object-score logits on this frame.
        config: thresholds and period.

    Returns:
        ``{track index: detection index}``, in the order the tracks were first paired.

    Example:
        >>> tracks = torch.zeros(1, 4, 4, dtype=torch.bool)
        >>> tracks[0, :2] = True
        >>> found = associate(tracks, tracks.clone(), torch.tensor([0.9]))
        >>> reconditioning_candidates(32, found, torch.tensor([0.9]), torch.tensor([2.0]))
        {0: 0}
        >>> reconditioning_candidates(33, found, torch.tensor([0.9]), torch.tensor([2.0]))
        {}
    """
    ious = association.ious
    if (
        config.recondition_every == 0
        or frame_index % config.recondition_every != 0
        or 0 in ious.shape
    ):
        return {}
    is_new = torch.zeros(ious.shape[0], dtype=torch.bool, device=ious.device)
    is_new[association.new_detections] = True
    best_iou = ious.max(dim=1).values
    best_track = torch.argmax(ious, dim=1)  # the first of tied maxima, as numpy's argmax
    confident = (
        (detection_scores.to(ious.device) >= config.recondition_detection_score)
        & ~is_new
        & (best_iou >= config.recondition_iou)
    )
    paired: dict[int, int] = {}
    for detection in torch.nonzero(confident).flatten().tolist():
        paired[int(best_track[detection])] = detection
    # Compared in the logits' dtype, as Meta does, not after conversion to Python floats.
    confident_track = (track_object_logits > config.recondition_object_logit).tolist()
    return {track: detection for track, detection in paired.items() if confident_track[track]}


def _check_scores(scores: object, count: int, argument: str) -> None:
    values = check_float_tensor(scores, argument, 1, "(N,)")
    if values.shape[0] != count:
        raise InputError(f"{argument}: expected {count} scores, got {values.shape[0]}")
