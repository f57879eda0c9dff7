"""NMS, association, admission limits and re-conditioning on hand-made 16×16 masks."""

from __future__ import annotations

import pytest
import torch

from helpers.masks import SIZE, rects
from sam3lib.errors import InputError
from sam3lib.video.association import (
    associate,
    limit_new_detections,
    nms_detections,
    reconditioning_candidates,
)
from sam3lib.video.tracking_config import TrackingConfig


def scores(*values: float) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32)


# --- NMS ---------------------------------------------------------------------------------


def test_nms_drops_the_lower_scoring_of_two_overlapping_detections() -> None:
    masks = rects((0, 0, 4, 4), (0, 1, 4, 5), (10, 10, 14, 14))  # IoU(0, 1) = 0.6
    assert nms_detections(masks, scores(0.6, 0.9, 0.7)).tolist() == [1, 2]


def test_nms_keeps_an_overlap_of_exactly_the_threshold() -> None:
    # IoU 1/10 = 0.1: NMS drops only IoU > 0.1.
    masks = rects((0, 0, 1, 6), (0, 5, 1, 10))
    assert nms_detections(masks, scores(0.9, 0.8)).tolist() == [0, 1]
    bigger_overlap = rects((0, 0, 1, 6), (0, 4, 1, 10))  # 2/10
    assert nms_detections(bigger_overlap, scores(0.9, 0.8)).tolist() == [0]


def test_nms_keeps_only_scores_above_the_detection_threshold() -> None:
    masks = rects((0, 0, 2, 2), (4, 4, 6, 6), (8, 8, 10, 10))
    assert nms_detections(masks, scores(0.5, 0.51, 0.2)).tolist() == [1]


def test_nms_a_suppressed_detection_suppresses_nothing() -> None:
    # 0 suppresses 1; 1 would suppress 2, but it is gone and 2 does not overlap 0.
    masks = rects((0, 0, 4, 4), (0, 2, 4, 8), (0, 6, 4, 10))
    assert nms_detections(masks, scores(0.9, 0.8, 0.7)).tolist() == [0, 2]


def test_nms_tied_scores_keep_the_lower_index() -> None:
    masks = rects((0, 0, 4, 4), (0, 0, 4, 4), (0, 0, 4, 4))
    assert nms_detections(masks, scores(0.6, 0.8, 0.8)).tolist() == [1]


def test_nms_returns_kept_indices_in_detector_order() -> None:
    masks = rects((0, 0, 2, 2), (4, 4, 6, 6), (8, 8, 10, 10))
    assert nms_detections(masks, scores(0.6, 0.9, 0.7)).tolist() == [0, 1, 2]


def test_nms_threshold_zero_turns_nms_off() -> None:
    masks = rects((0, 0, 4, 4), (0, 0, 4, 4))
    config = TrackingConfig(nms_iou_threshold=0.0)
    assert nms_detections(masks, scores(0.9, 0.8), config).tolist() == [0, 1]


def test_nms_of_no_detections() -> None:
    assert nms_detections(rects(), scores()).tolist() == []


def test_nms_rejects_scores_of_the_wrong_length() -> None:
    with pytest.raises(InputError, match="scores"):
        nms_detections(rects((0, 0, 2, 2)), scores(0.9, 0.8))


# --- association -------------------------------------------------------------------------


def test_a_track_overlapped_by_a_detection_is_matched() -> None:
    tracks = rects((0, 0, 4, 4), (8, 8, 12, 12))
    detections = rects((0, 0, 4, 3))  # IoU 0.75 with track 0
    found = associate(tracks, detections, scores(0.9))
    assert found.track_matched.tolist() == [True, False]
    assert found.track_unmatched.tolist() == [False, True]
    assert found.new_detections.tolist() == []
    assert found.detection_tracks == ((0,),)
    assert found.ious[0, 0].item() == pytest.approx(0.75)


def test_track_match_needs_iou_of_at_least_one_half() -> None:
    tracks = rects((0, 0, 4, 4))
    half = associate(tracks, rects((0, 0, 4, 2)), scores(0.9))  # 8/16
    less = associate(tracks, rects((0, 0, 3, 2)), scores(0.9))  # 6/16
    assert half.track_matched.tolist() == [True]
    assert less.track_matched.tolist() == [False]
    assert less.track_unmatched.tolist() == [True]


def test_an_empty_track_is_neither_matched_nor_unmatched() -> None:
    tracks = torch.zeros(1, SIZE, SIZE, dtype=torch.bool)
    found = associate(tracks, rects((0, 0, 4, 4)), scores(0.9))
    assert found.track_empty.tolist() == [True]
    assert found.track_unmatched.tolist() == [False]


def test_a_confident_detection_away_from_every_track_is_new() -> None:
    tracks = rects((0, 0, 4, 4))
    found = associate(tracks, rects((10, 10, 14, 14)), scores(0.7))
    assert found.new_detections.tolist() == [0]


def test_a_detection_below_the_new_object_score_is_not_new() -> None:
    tracks = rects((0, 0, 4, 4))
    found = associate(tracks, rects((10, 10, 14, 14)), scores(0.6))
    assert found.new_detections.tolist() == []


def test_a_detection_touching_a_track_is_not_new() -> None:
    tracks = rects((0, 0, 4, 5))  # 20 px
    touching = rects((0, 4, 4, 10))  # 4 px shared of 40: IoU 0.1, touches (>= 0.1)
    apart = rects((0, 4, 3, 15))  # 3 px shared of 50: IoU 0.06, does not
    found = associate(
        tracks, torch.cat([touching, apart, rects((0, 3, 4, 9))]), scores(0.9, 0.9, 0.9)
    )
    assert found.ious[:, 0].tolist() == pytest.approx([0.1, 0.06, 8 / 36])
    assert found.new_detections.tolist() == [1]
    assert found.detection_tracks == ((0,), (), (0,))
    # None of them matches the track (IoU < 0.5).
    assert found.track_unmatched.tolist() == [True]


def test_without_tracks_every_detection_is_new_whatever_its_score() -> None:
    found = associate(rects(), rects((0, 0, 4, 4), (8, 8, 12, 12)), scores(0.55, 0.9))
    assert found.new_detections.tolist() == [0, 1]
    assert found.ious.shape == (2, 0)
    assert found.detection_tracks == ((), ())


def test_without_detections_every_non_empty_track_is_unmatched() -> None:
    tracks = torch.cat([rects((0, 0, 4, 4)), torch.zeros(1, SIZE, SIZE, dtype=torch.bool)])
    found = associate(tracks, rects(), scores())
    assert found.track_unmatched.tolist() == [True, False]
    assert found.new_detections.tolist() == []


def test_one_detection_can_match_several_tracks() -> None:
    tracks = rects((0, 0, 4, 4), (0, 0, 4, 3), (10, 10, 12, 12))
    found = associate(tracks, rects((0, 0, 4, 4)), scores(0.9))
    assert found.track_matched.tolist() == [True, True, False]
    assert found.detection_tracks == ((0, 1),)
    assert found.touched_tracks == {0, 1}


def test_association_rejects_masks_of_different_sizes() -> None:
    with pytest.raises(InputError, match="detection_masks"):
        associate(rects((0, 0, 2, 2)), torch.zeros(1, 8, 8, dtype=torch.bool), scores(0.9))


# --- admission limit ---------------------------------------------------------------------


def test_no_object_limit_admits_every_new_detection() -> None:
    new = torch.tensor([0, 2])
    assert limit_new_detections(new, scores(0.7, 0.8, 0.9), 50).tolist() == [0, 2]


def test_object_limit_keeps_the_best_scores_first() -> None:
    config = TrackingConfig(max_objects=4)
    new = torch.tensor([0, 1, 2, 3])
    kept = limit_new_detections(new, scores(0.7, 0.9, 0.8, 0.95), 2, config)
    assert kept.tolist() == [3, 1]
    assert limit_new_detections(new, scores(0.7, 0.9, 0.8, 0.95), 4, config).tolist() == []
    assert limit_new_detections(new[:2], scores(0.7, 0.9), 2, config).tolist() == [0, 1]


# --- re-conditioning ---------------------------------------------------------------------


def _recondition(
    frame: int,
    detection_score: float = 0.9,
    detection: tuple[int, int, int, int] = (0, 0, 10, 10),
    object_logit: float = 2.0,
    config: TrackingConfig | None = None,
) -> dict[int, int]:
    config = config or TrackingConfig()
    tracks = rects((0, 0, 10, 10), (12, 12, 16, 16))
    found = associate(tracks, rects(detection), scores(detection_score), config)
    logits = torch.tensor([object_logit, 5.0])
    return reconditioning_candidates(frame, found, scores(detection_score), logits, config)


def test_reconditioning_only_on_every_sixteenth_frame() -> None:
    assert _recondition(16) == {0: 0}
    assert _recondition(0) == {0: 0}
    assert _recondition(48) == {0: 0}
    assert all(_recondition(frame) == {} for frame in (1, 8, 15, 17, 31, 33))


def test_reconditioning_needs_a_detection_score_of_0_8() -> None:
    assert _recondition(16, detection_score=0.8) == {0: 0}
    assert _recondition(16, detection_score=0.79) == {}


def test_reconditioning_needs_an_iou_of_0_8() -> None:
    assert _recondition(16, detection=(0, 0, 10, 8)) == {0: 0}  # 80/100
    assert _recondition(16, detection=(0, 0, 9, 8)) == {}  # 72/100


def test_reconditioning_needs_an_object_logit_above_0_8() -> None:
    assert _recondition(16, object_logit=0.81) == {0: 0}
    assert _recondition(16, object_logit=0.8) == {}
    # The logit, not its sigmoid: σ(1) = 0.73 still qualifies.
    assert _recondition(16, object_logit=1.0) == {0: 0}


def test_reconditioning_can_be_turned_off() -> None:
    assert _recondition(16, config=TrackingConfig(recondition_every=0)) == {}


def test_reconditioning_pairs_a_track_with_its_last_qualifying_detection() -> None:
    tracks = rects((0, 0, 10, 10))
    detections = rects((0, 0, 10, 9), (0, 0, 10, 10), (0, 0, 9, 10))
    detection_scores = scores(0.9, 0.85, 0.95)
    found = associate(tracks, detections, detection_scores)
    pairs = reconditioning_candidates(16, found, detection_scores, torch.tensor([3.0]))
    assert pairs == {0: 2}
