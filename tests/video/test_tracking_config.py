"""TrackingConfig: Meta's defaults, the ablation preset and argument checks (the defaults are
compared with Meta's builder and transformers in test_control_parity_meta.py)."""

from __future__ import annotations

import pytest

from sam3lib.errors import ConfigError
from sam3lib.video.tracking_config import TrackingConfig


def test_defaults_are_metas_with_temporal_disambiguation() -> None:
    config = TrackingConfig()
    assert (config.detection_score_threshold, config.nms_iou_threshold) == (0.5, 0.1)
    assert (config.detection_match_iou, config.track_match_iou, config.new_object_score) == (
        0.1,
        0.5,
        0.7,
    )
    assert (
        config.hotstart_frames,
        config.hotstart_unmatched_frames,
        config.hotstart_duplicate_frames,
    ) == (15, 8, 8)
    assert (
        config.recondition_every,
        config.recondition_detection_score,
        config.recondition_iou,
        config.recondition_object_logit,
    ) == (16, 0.8, 0.8, 0.8)
    assert (config.occlusion_iou, config.suppressed_mask_logit) == (0.7, -10.0)
    assert (config.fill_hole_area, config.memory_min_area_kept) == (16, 0.3)
    assert config.max_objects is None


def test_the_ablation_turns_off_hotstart_and_reconditioning_only() -> None:
    config = TrackingConfig.without_temporal_disambiguation()
    assert (config.hotstart_frames, config.recondition_every) == (0, 0)
    assert config.occlusion_iou == 0.7 and config.new_object_score == 0.7


@pytest.mark.parametrize(
    "arguments",
    [
        {"track_match_iou": 1.5},
        {"new_object_score": float("nan")},
        {"hotstart_frames": -1},
        {"fill_hole_area": 2.0},
        {"max_objects": 0},
        {"hotstart_frames": 5},  # fewer than the 8 unmatched frames it needs
        {"keep_alive_initial": 40},
    ],
)
def test_inconsistent_settings_are_refused(arguments: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        TrackingConfig(**arguments)  # type: ignore[arg-type]
