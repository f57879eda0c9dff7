"""Tests of sam3lib.interactive.mask_generation against segment-anything's ``utils/amg.py``.

segment-anything (a dev dependency) is the reference. Its package ``__init__`` imports
torchvision, which has no build for our torch, so only the file ``utils/amg.py`` is loaded; its
``remove_small_regions`` imports OpenCV, which a test hands a union-find labeller written here
instead. torchvision's ``nms`` is replaced by a plain-Python reference, also written here.
"""

from __future__ import annotations

import ast
import importlib.util
import itertools
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import torch

from sam3lib.errors import InputError
from sam3lib.interactive.mask_generation import (
    MaskGenerationOptions,
    box_nms,
    box_touches_crop_edge,
    crop_boxes,
    crop_nms,
    crop_point_grids,
    keep_by_quality,
    point_grid,
    postprocess_small_regions,
    remove_small_regions,
    stability_score,
    uncrop_boxes,
    uncrop_masks,
    uncrop_points,
)
from sam3lib.postprocess import boxes_from_masks, fill_holes


def _segment_anything_dir() -> Path:
    spec = importlib.util.find_spec("segment_anything")  # finds it without running __init__
    assert spec is not None and spec.submodule_search_locations, (
        "segment-anything is missing: pip install -c constraints.txt -e '.[dev]'"
    )
    return Path(next(iter(spec.submodule_search_locations)))


@pytest.fixture(scope="module")
def amg() -> Any:
    """segment-anything's ``segment_anything/utils/amg.py``, loaded on its own."""
    path = _segment_anything_dir() / "utils" / "amg.py"
    spec = importlib.util.spec_from_file_location("_segment_anything_amg", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _labels_by_union_find(image: npt.NDArray[Any]) -> tuple[npt.NDArray[np.int32], int]:
    """8-connected labels of the nonzero pixels: 0 background, then 1, 2, ... in raster order
    of each component's first pixel."""
    height, width = image.shape
    parent = list(range(height * width))

    def root(index: int) -> int:
        while parent[index] != index:
            index = parent[index]
        return index

    for y, x in itertools.product(range(height), range(width)):
        if not image[y, x]:
            continue
        for dy, dx in ((0, -1), (-1, -1), (-1, 0), (-1, 1)):  # the neighbours already seen
            ny, nx = y + dy, x + dx
            if 0 <= ny < height and 0 <= nx < width and image[ny, nx]:
                low, high = sorted((root(y * width + x), root(ny * width + nx)))
                parent[high] = low
    labels = np.zeros((height, width), dtype=np.int32)
    numbers: dict[int, int] = {}
    for y, x in itertools.product(range(height), range(width)):
        if image[y, x]:
            labels[y, x] = numbers.setdefault(root(y * width + x), len(numbers) + 1)
    return labels, len(numbers) + 1


def _fake_cv2() -> types.ModuleType:
    """Just the OpenCV call segment-anything's ``remove_small_regions`` makes."""

    def connected_components_with_stats(image: npt.NDArray[Any], connectivity: int) -> Any:
        assert connectivity == 8
        labels, count = _labels_by_union_find(image)
        stats = np.zeros((count, 5), dtype=np.int32)
        stats[:, 4] = np.bincount(labels.ravel(), minlength=count)
        return count, labels, stats, np.zeros((count, 2))

    module = types.ModuleType("cv2")
    module.connectedComponentsWithStats = connected_components_with_stats  # type: ignore[attr-defined]
    return module


@pytest.fixture
def amg_with_cv2(amg: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setitem(sys.modules, "cv2", _fake_cv2())
    return amg


def _reference_nms(boxes: list[list[float]], scores: list[float], threshold: float) -> list[int]:
    """torchvision.ops.nms, one pair of boxes at a time in float64."""
    order = sorted(range(len(scores)), key=lambda index: -scores[index])
    kept: list[int] = []
    for index in order:
        x0, y0, x1, y1 = boxes[index]
        suppressed = False
        for other in kept:
            a0, b0, a1, b1 = boxes[other]
            width = max(0.0, min(x1, a1) - max(x0, a0))
            height = max(0.0, min(y1, b1) - max(y0, b0))
            inter = width * height
            union = (x1 - x0) * (y1 - y0) + (a1 - a0) * (b1 - b0) - inter
            if union > 0 and inter / union > threshold:
                suppressed = True
                break
        if not suppressed:
            kept.append(index)
    return kept


def _masks(*rows: str) -> torch.Tensor:
    """Masks drawn side by side: row i of every mask, separated by spaces; '#' is foreground."""
    per_mask = zip(*(row.split() for row in rows), strict=True)
    return torch.tensor([[[char == "#" for char in line] for line in mask] for mask in per_mask])


# --- point grids and crops -----------------------------------------------------------------------


@pytest.mark.parametrize("side", [1, 2, 3, 7, 32])
def test_point_grid_matches_segment_anything(amg: Any, side: int) -> None:
    expected = torch.from_numpy(amg.build_point_grid(side)).to(torch.float32)

    torch.testing.assert_close(point_grid(side), expected, rtol=0, atol=1e-7)


def test_point_grid_lists_cell_centres_row_by_row() -> None:
    expected = [[1 / 6, 1 / 6], [3 / 6, 1 / 6], [5 / 6, 1 / 6], [1 / 6, 3 / 6]]

    torch.testing.assert_close(point_grid(3)[:4], torch.tensor(expected))


@pytest.mark.parametrize(("side", "layers", "scale"), [(32, 0, 1), (32, 3, 2), (16, 2, 3)])
def test_crop_point_grids_match_segment_anything(
    amg: Any, side: int, layers: int, scale: int
) -> None:
    expected = amg.build_all_layer_point_grids(side, layers, scale)

    grids = crop_point_grids(side, layers, scale)

    assert len(grids) == layers + 1
    for grid, reference in zip(grids, expected, strict=True):
        torch.testing.assert_close(grid, torch.from_numpy(reference).to(torch.float32))


def test_crop_point_grids_refuse_a_layer_without_points() -> None:
    with pytest.raises(InputError, match="points_per_side"):
        crop_point_grids(4, n_layers=3, scale_per_layer=2)  # 4, 2, 1, then 0


@pytest.mark.parametrize(
    ("size", "layers", "ratio"),
    [
        ((100, 100), 0, 512 / 1500),
        ((480, 640), 1, 512 / 1500),
        ((640, 480), 2, 512 / 1500),
        ((1500, 2250), 3, 512 / 1500),
        ((37, 101), 2, 0.0),
        ((333, 77), 3, 0.9),
    ],
)
def test_crop_boxes_match_segment_anything(
    amg: Any, size: tuple[int, int], layers: int, ratio: float
) -> None:
    expected_boxes, expected_layers = amg.generate_crop_boxes(size, layers, ratio)

    boxes, layer_indices = crop_boxes(size, layers, ratio)

    assert [list(box) for box in boxes] == expected_boxes
    assert layer_indices == expected_layers


def test_crop_boxes_start_with_the_whole_image_and_tile_it_per_layer() -> None:
    boxes, layers = crop_boxes((100, 200), n_layers=1, overlap_ratio=0.2)

    # Layer 1: overlap int(0.2 · 100) = 20 px; crops ceil((20 + 200) / 2) × ceil((20 + 100) / 2).
    assert boxes == [
        (0, 0, 200, 100),
        (0, 0, 110, 60),
        (0, 40, 110, 100),
        (90, 0, 200, 60),
        (90, 40, 200, 100),
    ]
    assert layers == [0, 1, 1, 1, 1]


@pytest.mark.parametrize("ratio", [-0.1, 1.0, float("nan"), True])
def test_crop_boxes_refuse_an_overlap_ratio_outside_0_1(ratio: float) -> None:
    with pytest.raises(InputError, match=r"overlap_ratio: expected a number in \[0, 1\)"):
        crop_boxes((100, 100), 1, ratio)


# --- filters -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("threshold", "offset"), [(0.0, 1.0), (0.5, 0.25), (-1.0, 0.0)])
def test_stability_score_matches_segment_anything(
    amg: Any, threshold: float, offset: float
) -> None:
    logits = torch.randn(12, 17, 23, generator=torch.Generator().manual_seed(0)) * 3
    logits[3] += 10  # everything inside both masks: score 1

    expected = amg.calculate_stability_score(logits, threshold, offset)

    torch.testing.assert_close(stability_score(logits, threshold, offset), expected)


def test_stability_score_is_the_area_ratio_of_the_two_thresholded_masks() -> None:
    # Above 1: 2 pixels; above -1: 4 pixels (thresholds are strict: 1.0 and -1.0 are out).
    logits = torch.tensor([[[3.0, 1.5, 1.0, 0.0, -1.0, -2.0]], [[-5.0] * 6]])

    scores = stability_score(logits, mask_threshold=0.0, offset=1.0)

    # An empty low mask scores 0 where segment-anything's 0 / 0 gives NaN.
    assert scores.tolist() == [0.5, 0.0]


def test_keep_by_quality_is_strict_on_iou_and_inclusive_on_stability() -> None:
    iou = torch.tensor([0.89, 0.88, 0.95, -0.2])
    stability = torch.tensor([0.95, 0.99, 0.949, 1.0])

    assert keep_by_quality(iou, stability, 0.88, 0.95).tolist() == [True, False, False, False]
    # A zero threshold turns its filter off, even for a negative predicted IoU.
    assert keep_by_quality(iou, stability, 0.0, 0.95).tolist() == [True, True, False, True]
    assert keep_by_quality(iou, stability, 0.88, 0.0).tolist() == [True, False, True, False]


def test_boxes_from_masks_extend_segment_anythings_inclusive_boxes_by_one_pixel(
    amg: Any,
) -> None:
    # The module's documented convention: ours (x0, y0, x1 + 1, y1 + 1), both zero when empty.
    masks = torch.rand(40, 9, 13, generator=torch.Generator().manual_seed(1)) > 0.97
    masks[0] = False

    inclusive = amg.batched_mask_to_box(masks).to(torch.float32)

    expected = inclusive + torch.tensor([0.0, 0.0, 1.0, 1.0]) * masks.flatten(1).any(1)[:, None]
    torch.testing.assert_close(boxes_from_masks(masks), expected)


@pytest.mark.parametrize(
    ("crop", "image"),
    [
        ((0, 0, 200, 100), (0, 0, 200, 100)),
        ((50, 0, 150, 60), (0, 0, 200, 100)),
        ((100, 40, 200, 100), (0, 0, 200, 100)),
        ((30, 25, 130, 75), (0, 0, 200, 100)),
    ],
)
def test_box_touches_crop_edge_matches_segment_anything(
    amg: Any, crop: tuple[int, int, int, int], image: tuple[int, int, int, int]
) -> None:
    generator = torch.Generator().manual_seed(2)
    width, height = crop[2] - crop[0], crop[3] - crop[1]
    corners = torch.rand(500, 2, 2, generator=generator) * torch.tensor([width, height])
    boxes = torch.cat([corners.amin(1), corners.amax(1)], dim=1).round()

    expected = amg.is_box_near_crop_edge(boxes, list(crop), list(image))

    assert torch.equal(box_touches_crop_edge(boxes, crop, image), expected)


def test_box_touches_crop_edge_flags_cut_sides_within_atol_only() -> None:
    crop, image = (100, 0, 200, 100), (0, 0, 300, 100)
    boxes = torch.tensor(
        [
            [20.0, 30.0, 50.0, 60.0],  # left side 120: 20 px from the crop's cut at 100
            [21.0, 30.0, 50.0, 60.0],  # 21 px: inside
            [30.0, 30.0, 80.0, 60.0],  # right side 180: 20 px from the cut at 200
            [30.0, 30.0, 79.0, 60.0],  # 21 px: inside
            [30.0, 0.0, 70.0, 100.0],  # on the crop's top and bottom, which are the image's
        ]
    )

    touches = box_touches_crop_edge(boxes, crop, image)

    assert touches.tolist() == [True, False, True, False, False]
    assert box_touches_crop_edge(boxes, crop, image, atol=0.0).tolist() == [False] * 5


# --- from crop to image coordinates --------------------------------------------------------------


def test_uncrop_boxes_and_points_match_segment_anything(amg: Any) -> None:
    crop = (17, 5, 80, 40)
    boxes = torch.rand(6, 4, generator=torch.Generator().manual_seed(3)) * 50
    points = torch.rand(3, 6, 2, generator=torch.Generator().manual_seed(4)) * 50

    torch.testing.assert_close(uncrop_boxes(boxes, crop), amg.uncrop_boxes_xyxy(boxes, crop))
    torch.testing.assert_close(uncrop_points(points, crop), amg.uncrop_points(points, crop))
    assert uncrop_boxes(boxes.to(torch.int64), crop).dtype == torch.int64


@pytest.mark.parametrize("crop", [(0, 0, 9, 7), (3, 2, 9, 6), (0, 4, 5, 7), (8, 0, 9, 1)])
def test_uncrop_masks_matches_segment_anything(amg: Any, crop: tuple[int, int, int, int]) -> None:
    height, width = 7, 9
    shape = (4, crop[3] - crop[1], crop[2] - crop[0])
    masks = torch.rand(shape, generator=torch.Generator().manual_seed(5)) > 0.5

    image_masks = uncrop_masks(masks, crop, (height, width))

    assert torch.equal(image_masks, amg.uncrop_masks(masks, list(crop), height, width))


def test_uncrop_masks_refuses_masks_of_another_size_than_the_crop() -> None:
    masks = torch.ones(1, 3, 3, dtype=torch.bool)

    with pytest.raises(InputError, match=r"masks: expected the crop's size \(h, w\) = \(3, 2\)"):
        uncrop_masks(masks, (1, 1, 3, 4), (5, 5))
    with pytest.raises(InputError, match="crop_box: expected a box inside the image"):
        uncrop_masks(masks, (3, 3, 6, 6), (5, 5))


# --- non-maximum suppression ---------------------------------------------------------------------


@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.5, 0.7, 1.0])
def test_box_nms_matches_a_plain_reference(threshold: float) -> None:
    generator = torch.Generator().manual_seed(6)
    corners = (torch.rand(300, 2, 2, generator=generator) * 40).round()
    boxes = torch.cat([corners.amin(1), corners.amax(1)], dim=1)  # some of zero width
    boxes[:20] = boxes[20:40]  # duplicates
    scores = (torch.rand(300, generator=generator) * 10).round() / 10  # many ties

    expected = _reference_nms(boxes.tolist(), scores.tolist(), threshold)

    assert box_nms(boxes, scores, threshold).tolist() == expected


def test_box_nms_suppresses_only_above_the_threshold() -> None:
    # IoU of boxes 0 and 1: 50 / 150 = 1/3; box 2 is far away; box 3 is box 0 again.
    boxes = torch.tensor(
        [[0.0, 0.0, 10.0, 10.0], [5.0, 0.0, 15.0, 10.0], [50, 50, 60, 60], [0, 0, 10, 10]]
    )
    scores = torch.tensor([0.9, 0.8, 0.1, 0.95])

    assert box_nms(boxes, scores, iou_threshold=0.34).tolist() == [3, 1, 2]
    assert box_nms(boxes, scores, iou_threshold=0.33).tolist() == [3, 2]
    assert box_nms(boxes, scores, iou_threshold=1.0).tolist() == [3, 0, 1, 2]
    assert box_nms(boxes[:0], scores[:0], iou_threshold=0.5).tolist() == []


def test_crop_nms_prefers_the_mask_from_the_smaller_crop() -> None:
    boxes = torch.tensor([[10.0, 10, 50, 50], [12, 10, 50, 52], [11, 10, 50, 50], [70, 70, 90, 90]])
    crops = torch.tensor(
        [[0, 0, 100, 100], [0, 0, 60, 60], [0, 0, 60, 60], [0, 0, 100, 100]], dtype=torch.int32
    )

    # Masks 1 and 2 come from the same smaller crop: the first of them stays.
    assert crop_nms(boxes, crops, iou_threshold=0.7).tolist() == [1, 3]


# --- small-region clean-up -----------------------------------------------------------------------


def _random_masks(count: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    density = torch.rand(count, 1, 1, generator=generator)
    return torch.rand(count, 9, 11, generator=generator) < density


@pytest.mark.parametrize("mode", ["holes", "islands"])
@pytest.mark.parametrize("min_area", [0, 1, 3, 8, 40])
def test_remove_small_regions_matches_segment_anything(
    amg_with_cv2: Any, mode: str, min_area: int
) -> None:
    masks = _random_masks(25, seed=min_area)
    masks[0] = False
    masks[1] = True

    cleaned, changed = remove_small_regions(masks, min_area, mode)  # type: ignore[arg-type]

    for index, mask in enumerate(masks):
        expected, expected_changed = amg_with_cv2.remove_small_regions(mask.numpy(), min_area, mode)
        assert np.array_equal(cleaned[index].numpy(), expected), index
        assert bool(changed[index]) == expected_changed, index


def test_remove_small_holes_are_8_connected_and_may_touch_the_border() -> None:
    masks = _masks(
        "##### #####",
        "#.### ##.##",
        "##.## #.#.#",
        "##### ##.##",
        "...## #####",
    )

    cleaned, changed = remove_small_regions(masks, min_area=4, mode="holes")

    # Left: the diagonal pair is one 2-pixel hole; the 3-pixel strip on the border fills too.
    # Right: the four diagonal holes are one 4-pixel region: not small.
    assert cleaned[0].all()
    assert torch.equal(cleaned[1], masks[1])
    assert changed.tolist() == [True, False]
    # The general-purpose fill_holes (4-connected, inside only) leaves the border strip.
    assert not fill_holes(masks[:1], max_area=4)[0, 4, :3].any()


def test_remove_small_islands_keeps_the_largest_when_all_are_small() -> None:
    masks = _masks(
        "#..## #...# ##...",
        "....# #...# .....",
        "#.... ..... ....#",
    )

    cleaned, changed = remove_small_regions(masks, min_area=4, mode="islands")

    assert torch.equal(cleaned[0], _masks("...##", "....#", ".....")[0])
    # A tie between two 2-pixel islands: the one whose first pixel comes first in raster order.
    assert torch.equal(cleaned[1], _masks("#....", "#....", ".....")[0])
    assert torch.equal(cleaned[2], _masks("##...", ".....", ".....")[0])
    assert changed.tolist() == [True, True, True]
    # A lone small island stays, but counts as changed (segment-anything's flag).
    lone, lone_changed = remove_small_regions(masks[:1, :2, 3:], min_area=4, mode="islands")
    assert torch.equal(lone, masks[:1, :2, 3:]) and lone_changed.tolist() == [True]


def test_postprocess_small_regions_prefers_unchanged_masks(amg_with_cv2: Any) -> None:
    masks = _masks(
        "####.... ####.... ........ ####....",
        "####.... ####.... ....#### #.##....",
        "####.... ####.... ....#### ####....",
        "####...# ####.... ....#### ####....",
    )

    kept, cleaned, boxes = postprocess_small_regions(masks, min_area=2, iou_threshold=0.7)

    # Mask 0 loses its speck and mask 3 gets its hole filled: both changed, so the unchanged
    # mask 1 (the same box) suppresses them; mask 2 overlaps nothing.
    assert kept.tolist() == [1, 2]
    assert torch.equal(cleaned, masks[[1, 2]])
    torch.testing.assert_close(boxes, torch.tensor([[0.0, 0, 4, 4], [4, 1, 8, 4]]))
    # The same steps through segment-anything's remove_small_regions.
    for index, mask in zip(kept.tolist(), cleaned, strict=True):
        filled, _ = amg_with_cv2.remove_small_regions(masks[index].numpy(), 2, "holes")
        expected, _ = amg_with_cv2.remove_small_regions(filled, 2, "islands")
        assert np.array_equal(mask.numpy(), expected)


def test_postprocess_small_regions_returns_the_cleaned_masks_when_no_duplicate_is_left() -> None:
    masks = _masks("##.......#", "##........")

    kept, cleaned, boxes = postprocess_small_regions(masks, min_area=2, iou_threshold=0.7)

    assert kept.tolist() == [0]
    assert torch.equal(cleaned, _masks("##........", "##........"))
    torch.testing.assert_close(boxes, torch.tensor([[0.0, 0.0, 2.0, 2.0]]))


# --- options -------------------------------------------------------------------------------------


def _segment_anything_defaults() -> dict[str, object]:
    """Keyword defaults of ``SamAutomaticMaskGenerator.__init__`` and ``Sam.mask_threshold``,
    read from segment-anything's source (importing it needs torchvision)."""
    package = _segment_anything_dir()
    defaults: dict[str, object] = {}
    tree = ast.parse((package / "automatic_mask_generator.py").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == "__init__":
            arguments = node.args.args[-len(node.args.defaults) :]
            for argument, default in zip(arguments, node.args.defaults, strict=True):
                defaults[argument.arg] = eval(ast.unparse(default))  # literals and 512 / 1500
    for node in ast.walk(ast.parse((package / "modeling" / "sam.py").read_text())):
        if isinstance(node, ast.AnnAssign) and ast.unparse(node.target) == "mask_threshold":
            assert node.value is not None
            defaults["mask_threshold"] = ast.literal_eval(node.value)
    return defaults


def test_options_defaults_are_segment_anythings() -> None:
    expected = _segment_anything_defaults()
    options = MaskGenerationOptions()

    for name, value in vars(options).items():
        assert value == expected[name], name


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("points_per_side", 0, r"points_per_side: expected an int >= 1, got 0"),
        ("points_per_batch", 2.0, r"points_per_batch: expected an int >= 1"),
        ("pred_iou_thresh", 1.5, r"pred_iou_thresh: expected a number in \[0, 1\]"),
        ("stability_score_thresh", -0.1, r"stability_score_thresh: expected a number in \[0, 1\]"),
        ("stability_score_offset", -1.0, r"stability_score_offset: expected a finite number >= 0"),
        ("box_nms_thresh", float("nan"), r"box_nms_thresh: expected a number in \[0, 1\]"),
        ("crop_n_layers", -1, r"crop_n_layers: expected a non-negative int"),
        ("crop_nms_thresh", True, r"crop_nms_thresh: expected a number in \[0, 1\]"),
        ("crop_overlap_ratio", 1.0, r"crop_overlap_ratio: expected a number in \[0, 1\)"),
        ("crop_n_points_downscale_factor", 0, r"crop_n_points_downscale_factor: .* >= 1"),
        ("min_mask_region_area", -5, r"min_mask_region_area: expected a non-negative int"),
        ("mask_threshold", float("inf"), r"mask_threshold: expected a finite number"),
    ],
)
def test_options_name_the_bad_option_and_its_range(name: str, value: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        MaskGenerationOptions(**{name: value})  # type: ignore[arg-type]


def test_options_refuse_crop_layers_left_without_points() -> None:
    MaskGenerationOptions(points_per_side=4, crop_n_layers=2, crop_n_points_downscale_factor=2)

    with pytest.raises(InputError, match=r"points_per_side: crop layer 3 would get .* = 0"):
        MaskGenerationOptions(points_per_side=4, crop_n_layers=3, crop_n_points_downscale_factor=2)
