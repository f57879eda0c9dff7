"""Known answers for tiled segmentation: objects cut by tile borders come back once, whole.

The per-tile segmenter is :mod:`oracle` (every blob of a tile is an instance), so the right
answer for the whole image is known: its blobs. The tiling code under test cuts the tiles,
encodes them, maps each tile's instances back, matches and merges them.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from sam3lib.tiling import CroppedMask, TiledSegmentationResult, TileOptions, tile_grid
from sam3lib.tiling.merge import Detection, merge_detections
from sam3lib.tiling.segment import TiledPrompts, segment_tiles
from sam3lib.tiling.source import TileSource
from tiling.oracle import PixelBackend, blobs, decode_blobs

TILE = 100
OVERLAP = 30


def run_tiled(
    rgb: npt.NDArray[np.uint8],
    *,
    overlap: int = OVERLAP,
    batch_size: int = 1,
    top_k: int | None = None,
) -> TiledSegmentationResult:
    options = TileOptions(size=TILE, overlap=overlap, batch_size=batch_size)
    prompts = TiledPrompts(asked=[("blob", "blob")], boxes=None, box_labels=None, top_k=top_k)
    (result,) = segment_tiles(TileSource(rgb), options, prompts, PixelBackend(TILE), decode_blobs)
    return result


def assert_same_instances(result: TiledSegmentationResult, rgb: npt.NDArray[np.uint8]) -> None:
    expected = blobs(rgb)
    assert len(result) == len(expected)
    found = [result.mask(index) for index in range(len(result))]
    for mask in expected:
        matches = [
            index for index, candidate in enumerate(found) if np.array_equal(candidate, mask)
        ]
        assert len(matches) == 1, "each object comes back exactly once, pixel for pixel"


def scene(height: int, width: int) -> npt.NDArray[np.uint8]:
    return np.zeros((height, width, 3), dtype=np.uint8)


def test_the_grid_used_here_has_the_borders_the_scenes_cross() -> None:
    rects = [tile.rect for tile in tile_grid((170, 240), TileOptions(size=TILE, overlap=OVERLAP))]
    assert sorted({(r.left, r.right) for r in rects}) == [(0, 100), (70, 170), (140, 240)]
    assert sorted({(r.top, r.bottom) for r in rects}) == [(0, 100), (70, 170)]


def test_an_object_across_a_vertical_border_comes_back_once_and_whole() -> None:
    rgb = scene(170, 240)
    rgb[20:50, 60:125] = 200  # columns 60-124: tile 0 ends at 100, tile 1 starts at 70
    result = run_tiled(rgb)
    assert_same_instances(result, rgb)
    assert result.boxes.tolist() == [[60.0, 20.0, 125.0, 50.0]]


def test_an_object_across_a_corner_of_four_tiles_comes_back_once() -> None:
    rgb = scene(170, 240)
    yy, xx = np.mgrid[:170, :240]
    rgb[(yy - 85) ** 2 + (xx - 85) ** 2 < 40**2] = (250, 40, 10)  # a disc on four tiles
    result = run_tiled(rgb)
    assert_same_instances(result, rgb)


def test_an_object_inside_the_overlap_is_not_duplicated() -> None:
    rgb = scene(100, 170)
    rgb[40:60, 75:95] = 180  # columns 75-94 lie in both tiles (70-100)
    result = run_tiled(rgb)
    assert_same_instances(result, rgb)
    assert result.scores.tolist() == pytest.approx([180 / 255])


def test_an_object_longer_than_a_tile_is_merged_across_three_tiles() -> None:
    rgb = scene(100, 240)
    rgb[45:52, 5:235] = 120  # a bar through all three tiles
    rgb[47, 5:235] = 255  # brighter in the middle: a score to keep
    result = run_tiled(rgb)
    assert_same_instances(result, rgb)


def test_neighbours_across_a_border_stay_apart() -> None:
    rgb = scene(100, 170)
    rgb[30:60, 60:84] = 100  # left object ends at column 83, inside the overlap
    rgb[30:60, 86:130] = 220  # right object starts two columns later
    rgb[70:80, 10:160] = 60  # and a third crosses under both
    result = run_tiled(rgb)
    assert_same_instances(result, rgb)
    # Scores are each object's own, highest first.
    assert result.scores.tolist() == pytest.approx([220 / 255, 100 / 255, 60 / 255])


def test_top_k_counts_a_merged_object_once() -> None:
    rgb = scene(100, 170)
    rgb[30:60, 60:110] = 250  # across the border: two detections, one object, the best
    rgb[5:15, 5:15] = 100
    rgb[80:95, 140:160] = 180
    result = run_tiled(rgb, top_k=2)
    assert result.scores.tolist() == pytest.approx([250 / 255, 180 / 255])
    assert result.areas.tolist() == [30 * 50, 15 * 20]


def test_many_objects_in_batches_of_tiles_match_the_untiled_answer() -> None:
    rng = np.random.default_rng(3)
    rgb = scene(300, 420)
    for _ in range(40):
        top, left = rng.integers(0, 280), rng.integers(0, 400)
        height, width = rng.integers(3, 60, size=2)
        rgb[top : top + height, left : left + width] = rng.integers(30, 255)
    result = run_tiled(rgb, batch_size=3)
    assert_same_instances(result, rgb)
    # Exports come from the crops and agree with the full-size masks.
    dense = result.to_segmentation_result()
    assert result.to_coco_rle() == dense.to_coco_rle()
    assert result.to_polygons() == dense.to_polygons()
    assert result.to_dict()["instances"] == dense.to_dict()["instances"]
    assert result.to_dict()["tiles"] == 24  # 4 rows x 6 columns


def test_without_overlap_a_cut_object_is_two_instances() -> None:
    # Documented behaviour, not a wish: no shared pixels, nothing to match on.
    rgb = scene(100, 200)
    rgb[40:60, 80:120] = 200
    result = run_tiled(rgb, overlap=0)
    assert len(result) == 2
    assert sorted(result.areas.tolist()) == [20 * 20, 20 * 20]


def _part(
    tile_index: int, top: int, left: int, pixels: npt.NDArray[np.bool_], score: float
) -> Detection:
    tiles = tile_grid((100, 170), TileOptions(size=TILE, overlap=OVERLAP))
    mask = CroppedMask(top, left, pixels)
    rect = mask.rect
    box = np.array([rect.left, rect.top, rect.right, rect.bottom], dtype=np.float64)
    return Detection(tiles[tile_index], mask, box, score)


@pytest.mark.parametrize(("shift", "merged"), [(0, True), (6, True), (14, False)])
def test_parts_merge_when_their_masks_agree_in_the_overlap(shift: int, merged: bool) -> None:
    # Tile 0 sees columns 0-99, tile 1 columns 70-169; the overlap is columns 70-99 (30 px).
    # Tile 0's part covers columns 80-99 (cut by its border), tile 1's 80+shift to 119+shift.
    # IoU in the overlap: (20 - shift) / 20: 1, 0.7, 0.3.
    left = _part(0, 10, 80, np.ones((10, 20), dtype=bool), 0.7)
    right = _part(1, 10, 80 + shift, np.ones((10, 40), dtype=bool), 0.9)
    found = merge_detections([left, right], match_iou=0.5)
    assert len(found) == (1 if merged else 2)
    if merged:
        (only,) = found
        assert only.score == 0.9
        # Columns up to 84 from tile 0 (it owns 0-84), from 85 on from tile 1.
        expected = np.zeros((100, 170), dtype=bool)
        expected[10:20, 80:85] = True
        expected[10:20, max(85, 80 + shift) : 120 + shift] = True
        assert np.array_equal(only.mask.full((100, 170)), expected)
