"""Thresholds of video tracking: which detections start objects, which objects are removed,
re-conditioned or kept out of memory (text tracking), which tracked frames serve as memory
(both modes).

Defaults are Meta's ``build_sam3_video_model(apply_temporal_disambiguation=True)`` (sam3 0.1.4,
the arguments it passes to ``Sam3VideoInferenceWithInstanceInteractivity``, and the constants
``HIGH_CONF_THRESH`` / ``HIGH_IOU_THRESH`` / ``NO_OBJ_LOGIT`` / ``shrink_threshold`` inside its
methods); transformers' ``Sam3VideoConfig()`` has the same values. Masks are compared at the
tracker's low resolution (288² for SAM 3) after binarising logits at 0.

Meta options whose defaults switch a heuristic off are not modelled: Hungarian one-to-one
track matching, dropping detections near the frame border, masklet confirmation and box-IoU
re-conditioning.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sam3lib.errors import ConfigError

__all__ = ["TrackingConfig"]

_UNIT_INTERVAL_FIELDS = (
    "detection_score_threshold",
    "nms_iou_threshold",
    "detection_match_iou",
    "track_match_iou",
    "new_object_score",
    "recondition_detection_score",
    "recondition_iou",
    "occlusion_iou",
    "memory_min_area_kept",
)
_COUNT_FIELDS = (
    "hotstart_frames",
    "hotstart_unmatched_frames",
    "hotstart_duplicate_frames",
    "recondition_every",
    "fill_hole_area",
)


@dataclass(frozen=True)
class TrackingConfig:
    """Per-frame control of text-prompted tracking (Meta ``Sam3VideoBase`` arguments in
    brackets).

    Example:
        >>> config = TrackingConfig()
        >>> config.new_object_score, config.hotstart_frames
        (0.7, 15)
        >>> TrackingConfig.without_temporal_disambiguation().hotstart_frames
        0
    """

    # --- detections ---------------------------------------------------------------------
    # Detections with score > this enter NMS and tracking [score_threshold_detection].
    detection_score_threshold: float = 0.5
    # Greedy mask NMS drops a detection whose IoU with a kept, higher-scoring one is > this;
    # 0 turns NMS off [det_nms_thresh].
    nms_iou_threshold: float = 0.1
    # --- association --------------------------------------------------------------------
    # A detection with IoU >= this with a track touches it: it cannot start an object, and two
    # tracks touching one detection count as duplicates [assoc_iou_thresh].
    detection_match_iou: float = 0.1
    # A track is matched on a frame when some detection has IoU >= this with it; a non-empty
    # unmatched track counts towards hot-start removal [trk_assoc_iou_thresh].
    track_match_iou: float = 0.5
    # An untouched detection starts an object when its score is >= this. On a frame without
    # tracks every detection does, whatever its score (Meta and transformers) [new_det_thresh].
    new_object_score: float = 0.7
    # At most this many objects; new detections beyond it are dropped lowest score first.
    # None: no limit [max_num_objects, -1].
    max_objects: int | None = None
    # --- hot start ----------------------------------------------------------------------
    # An object born fewer than this many frames ago may still be removed; frames are reported
    # once this many are buffered (this − 1 frames late), so removed objects never show
    # [hotstart_delay].
    hotstart_frames: int = 15
    # ... removed once it has had this many frames with a non-empty, unmatched mask
    # [hotstart_unmatch_thresh].
    hotstart_unmatched_frames: int = 8
    # ... or this many frames touching the same detection as an older object
    # [hotstart_dup_thresh].
    hotstart_duplicate_frames: int = 8
    # --- keep-alive (hides long-unmatched objects; inert while the first field is True) ---
    # Only hot-start removal acts on unmatched objects; False also hides an object on frames
    # where its keep-alive counter is <= 0 [suppress_unmatched_only_within_hotstart].
    suppress_unmatched_only_within_hotstart: bool = True
    keep_alive_initial: int = 30  # counter of a new object [init_trk_keep_alive]
    keep_alive_max: int = 30  # +1 per frame touched by a detection, up to this [max_trk_keep_alive]
    keep_alive_min: int = -1  # -1 per unmatched frame, down to this [min_trk_keep_alive]
    # Also -1 on frames where the tracker's mask is empty
    # [decrease_trk_keep_alive_for_empty_masklets].
    keep_alive_decrease_when_empty: bool = False
    # --- re-conditioning ----------------------------------------------------------------
    # On frames t with t % this == 0 a track confirmed by a detection is re-prompted with the
    # detection's mask; 0 turns it off [recondition_every_nth_frame].
    recondition_every: int = 16
    recondition_detection_score: float = 0.8  # detection score >= this [HIGH_CONF_THRESH]
    recondition_iou: float = 0.8  # its best IoU over tracks >= this [HIGH_IOU_THRESH]
    # The track's object-score logit (not its sigmoid) > this [HIGH_CONF_THRESH, reused].
    recondition_object_logit: float = 0.8
    # --- overlaps before the memory write -----------------------------------------------
    # Of two tracks with mask IoU >= this, the more recently occluded one is blanked for the
    # frame; 0 turns it off [suppress_overlapping_based_on_recent_occlusion_threshold].
    occlusion_iou: float = 0.7
    # Logit written over every pixel of a blanked track [NO_OBJ_LOGIT].
    suppressed_mask_logit: float = -10.0
    # Holes and specks up to this many pixels are filled/removed in tracker masks and new
    # objects' detector masks at low resolution [fill_hole_area].
    fill_hole_area: int = 16
    # A mask keeping less than this fraction of its area under the pixel-wise argmax over
    # objects is left out of memory (> 70 % lost) [shrink_threshold].
    memory_min_area_kept: float = 0.3
    # Object score the memory encoder is given: +this for a non-empty mask, -this for an empty
    # one (the tracker's own score is not used).
    memory_object_logit: float = 10.0
    # --- memory selection (text and click tracking) ---------------------------------------
    # A tracked frame serves as memory only if its score (objects tracked together: mean of
    # (2σ(s) − 1 if s > 0 else 0) × predicted IoU) is > this; None turns selection off, as
    # transformers has it [use_memory_selection, mf_threshold].
    memory_selection_threshold: float | None = 0.01

    def __post_init__(self) -> None:
        for name in _UNIT_INTERVAL_FIELDS:
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and 0 <= value <= 1):
                raise ConfigError(f"{name}: expected a number in [0, 1], got {value!r}")
        for name in _COUNT_FIELDS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"{name}: expected a non-negative int, got {value!r}")
        if self.max_objects is not None and (
            isinstance(self.max_objects, bool)
            or not isinstance(self.max_objects, int)
            or self.max_objects < 1
        ):
            raise ConfigError(
                f"max_objects: expected None or an int >= 1, got {self.max_objects!r}"
            )
        if (
            self.hotstart_frames > 0
            and max(self.hotstart_unmatched_frames, self.hotstart_duplicate_frames)
            > self.hotstart_frames
        ):
            raise ConfigError(
                "hotstart_unmatched_frames and hotstart_duplicate_frames must not exceed "
                f"hotstart_frames ({self.hotstart_frames}); Meta asserts the same"
            )
        if not self.keep_alive_min <= self.keep_alive_initial <= self.keep_alive_max:
            raise ConfigError(
                "expected keep_alive_min <= keep_alive_initial <= keep_alive_max, got "
                f"{self.keep_alive_min}, {self.keep_alive_initial}, {self.keep_alive_max}"
            )
        selection = self.memory_selection_threshold
        if selection is not None and not (
            isinstance(selection, (int, float)) and math.isfinite(selection)
        ):
            raise ConfigError(
                f"memory_selection_threshold: expected None or a number, got {selection!r}"
            )
        if not (math.isfinite(self.recondition_object_logit) and self.memory_object_logit > 0):
            raise ConfigError("recondition_object_logit must be finite, memory_object_logit > 0")

    @classmethod
    def without_temporal_disambiguation(cls) -> TrackingConfig:
        """Meta's ablation (``apply_temporal_disambiguation=False``): no hot start (0/0/0), no
        re-conditioning, no memory selection; NMS, association, occlusion and hole filling as
        the default."""
        return cls(
            hotstart_frames=0,
            hotstart_unmatched_frames=0,
            hotstart_duplicate_frames=0,
            recondition_every=0,
            memory_selection_threshold=None,
        )
