"""Segmenter.generate end to end: its masks are the interactive head's answers to the grid's
clicks, filtered, de-duplicated and ordered as segment-anything's generator does. The pure
steps are tested against segment-anything in test_mask_generation.py."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from helpers.reference_components import component_areas_8
from sam3lib import InputError, MaskGenerationOptions, Segmenter
from sam3lib.interactive.mask_generation import crop_boxes

NO_FILTERS = {"pred_iou_thresh": 0.0, "stability_score_thresh": 0.0, "box_nms_thresh": 1.0}


def _box_iou(a: npt.NDArray[np.float32], b: npt.NDArray[np.float32]) -> float:
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def test_without_filters_every_click_gives_its_three_candidates(
    interactive_segmenter: Segmenter, photo: npt.NDArray[np.uint8]
) -> None:
    # 3 x 3 clicks in batches of 4: the last batch is partial.
    generated = interactive_segmenter.generate(
        photo, points_per_side=3, points_per_batch=4, **NO_FILTERS
    )
    height, width = photo.shape[:2]
    assert len(generated) == 3 * 9
    cells = (np.arange(3) + 0.5) / 3
    expected_points = {(round(x * width, 3), round(y * height, 3)) for x in cells for y in cells}
    assert {tuple(np.round(p, 3)) for p in generated.points.tolist()} == expected_points
    assert (np.diff(generated.areas) <= 0).all()  # largest first
    # Each mask is what predict answers to its click (multimask, no hole filling). A batch of
    # 4 clicks runs other kernels than one click alone: pixels at a logit of ~0 may flip.
    for point in generated.points[::7]:
        answer = interactive_segmenter.predict(photo, points=[point], max_hole_area=0)
        from_point = generated.masks[(generated.points == point).all(axis=1)]
        assert len(from_point) == 3
        for mask in from_point:
            differing = (answer.masks != mask).mean(axis=(1, 2))
            assert differing.min() < 1e-3


def test_filters_drop_what_they_should(
    interactive_segmenter: Segmenter, photo: npt.NDArray[np.uint8]
) -> None:
    everything = interactive_segmenter.generate(photo, points_per_side=4, **NO_FILTERS)
    threshold = float(np.median(everything.scores))
    filtered = interactive_segmenter.generate(
        photo,
        points_per_side=4,
        pred_iou_thresh=threshold,
        stability_score_thresh=0.0,
        box_nms_thresh=1.0,
    )
    assert len(filtered) == int((everything.scores > threshold).sum())
    assert (filtered.scores > threshold).all()
    stable = interactive_segmenter.generate(
        photo,
        points_per_side=4,
        pred_iou_thresh=0.0,
        stability_score_thresh=0.9,
        box_nms_thresh=1.0,
    )
    assert (stable.stability_scores >= 0.9).all()
    assert len(stable) == int((everything.stability_scores >= 0.9).sum())


def test_box_nms_leaves_no_two_boxes_overlapping_beyond_the_threshold(
    interactive_segmenter: Segmenter, photo: npt.NDArray[np.uint8]
) -> None:
    kept = interactive_segmenter.generate(
        photo,
        points_per_side=4,
        pred_iou_thresh=0.0,
        stability_score_thresh=0.0,
        box_nms_thresh=0.5,
    )
    everything = interactive_segmenter.generate(photo, points_per_side=4, **NO_FILTERS)
    assert 0 < len(kept) < len(everything)
    for i in range(len(kept)):
        for j in range(i + 1, len(kept)):
            assert _box_iou(kept.boxes[i], kept.boxes[j]) <= 0.5 + 1e-6


def test_crop_layers_find_masks_inside_their_crops(
    interactive_segmenter: Segmenter, photo: npt.NDArray[np.uint8]
) -> None:
    generated = interactive_segmenter.generate(
        photo, points_per_side=2, crop_n_layers=1, crop_nms_thresh=1.0, **NO_FILTERS
    )
    height, width = photo.shape[:2]
    crops, _ = crop_boxes((height, width), 1, 512 / 1500)
    assert {tuple(c) for c in generated.crop_boxes.tolist()} <= set(crops)
    assert len({tuple(c) for c in generated.crop_boxes.tolist()}) > 1
    for mask, (x0, y0, x1, y1) in zip(generated.masks, generated.crop_boxes, strict=True):
        outside = mask.copy()
        outside[y0:y1, x0:x1] = False
        assert not outside.any()


def test_small_regions_are_cleaned(
    interactive_segmenter: Segmenter, photo: npt.NDArray[np.uint8]
) -> None:
    plain = interactive_segmenter.generate(photo, points_per_side=2, **NO_FILTERS)
    cleaned = interactive_segmenter.generate(
        photo, points_per_side=2, min_mask_region_area=400, **NO_FILTERS
    )
    assert 0 < len(cleaned) <= len(plain)
    # segment-anything's clean-up: no hole and no island under the area is left in a mask,
    # except a mask's only island (kept so that no mask empties).
    for mask in cleaned.masks:
        holes = component_areas_8(~mask)
        assert not ((holes > 0) & (holes < 400)).any()
        islands = component_areas_8(mask)
        if len(np.unique(islands[mask])) > 1 or (islands[mask] >= 400).any():
            assert not ((islands > 0) & (islands < 400)).any()


def test_options_are_checked(
    interactive_segmenter: Segmenter, photo: npt.NDArray[np.uint8]
) -> None:
    with pytest.raises(InputError, match="pred_iou_thresh"):
        interactive_segmenter.generate(photo, pred_iou_thresh=1.5)
    with pytest.raises(InputError, match="points_per_sid"):
        interactive_segmenter.generate(photo, points_per_sid=4)
    with pytest.raises(InputError, match="not both"):
        interactive_segmenter.generate(photo, MaskGenerationOptions(), points_per_side=4)
    embedding = interactive_segmenter.encode_image(photo)
    with pytest.raises(InputError, match="ImageEmbedding"):
        interactive_segmenter.generate(embedding)  # type: ignore[arg-type]
