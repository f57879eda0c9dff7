"""Tests of sam3lib.formats.polygons.

Expected polygons are worked out by hand from the documented conventions (pixel (r, c) is the
square (c, r)-(c+1, r+1); outer rings clockwise on screen from the top-left corner; holes
spliced in by a vertical cut from their top-left corner). Round trips are judged by
pycocotools' own polygon rasteriser (frPyObjects + merge + decode), the reference COCO tools
use: it samples pixel column c at x = c + 0.5 and fills between horizontal edges, so exact
pixel-edge polygons must reproduce the mask pixel for pixel, holes included, and they do.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pycocotools.mask as coco_mask
import pytest

from sam3lib.errors import InputError
from sam3lib.formats.polygons import mask_to_polygons

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def _rasterise_with_pycocotools(polygons: list[list[float]], height: int, width: int) -> Any:
    if not polygons:
        return np.zeros((height, width), dtype=bool)
    rles = coco_mask.frPyObjects(polygons, height, width)
    return coco_mask.decode(coco_mask.merge(rles)).astype(bool)


def _shoelace(polygon: list[float]) -> float:
    x, y = np.asarray(polygon[0::2]), np.asarray(polygon[1::2])
    return float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y) / 2)


def _mask(rows: list[str]) -> np.ndarray:
    return np.array([[char == "#" for char in row] for row in rows], dtype=bool)


# --- hand-made shapes ---------------------------------------------------------------------------


def test_a_single_pixel_is_its_unit_square() -> None:
    mask = np.zeros((4, 5), dtype=bool)
    mask[1, 3] = True

    assert mask_to_polygons(mask) == [[3.0, 1.0, 4.0, 1.0, 4.0, 2.0, 3.0, 2.0]]


def test_a_rectangle_has_its_four_corners_only() -> None:
    mask = np.zeros((6, 8), dtype=bool)
    mask[1:4, 2:7] = True  # rows 1-3, columns 2-6

    assert mask_to_polygons(mask) == [[2.0, 1.0, 7.0, 1.0, 7.0, 4.0, 2.0, 4.0]]


def test_an_l_shape_has_six_corners() -> None:
    mask = _mask(
        [
            "#..",
            "#..",
            "###",
        ]
    )

    assert mask_to_polygons(mask) == [[0.0, 0.0, 1.0, 0.0, 1.0, 2.0, 3.0, 2.0, 3.0, 3.0, 0.0, 3.0]]


def test_separate_components_give_one_polygon_each_in_raster_order() -> None:
    mask = _mask(
        [
            "....##",
            "##..##",
            "##....",
        ]
    )

    assert mask_to_polygons(mask) == [
        [4.0, 0.0, 6.0, 0.0, 6.0, 2.0, 4.0, 2.0],
        [0.0, 1.0, 2.0, 1.0, 2.0, 3.0, 0.0, 3.0],
    ]


def test_diagonal_neighbours_are_one_component_touching_at_a_corner() -> None:
    mask = _mask(
        [
            "#.",
            ".#",
        ]
    )

    # 8-connected: one ring through the shared corner (1, 1), visited twice.
    assert mask_to_polygons(mask) == [
        [0.0, 0.0, 1.0, 0.0, 1.0, 1.0, 2.0, 1.0, 2.0, 2.0, 1.0, 2.0, 1.0, 1.0, 0.0, 1.0]
    ]


def test_a_hole_is_spliced_in_through_a_zero_width_cut() -> None:
    mask = _mask(
        [
            "....",
            ".###",
            ".#.#",
            ".###",
        ]
    )

    # Outer ring from (1, 1); at the hole's top-left corner (2, 2) a cut runs down from (2, 1),
    # the hole is walked counter-clockwise, the cut climbs back to (2, 1), and the outer ring
    # goes on. (2, 2) is on the straight way down, so it only appears on the way back.
    outer_to_cut = [1.0, 1.0, 2.0, 1.0]
    down_and_around_the_hole = [2.0, 3.0, 3.0, 3.0, 3.0, 2.0, 2.0, 2.0]
    up_and_rest_of_outer = [2.0, 1.0, 4.0, 1.0, 4.0, 4.0, 1.0, 4.0]
    assert mask_to_polygons(mask) == [
        [*outer_to_cut, *down_and_around_the_hole, *up_and_rest_of_outer]
    ]
    assert _shoelace(mask_to_polygons(mask)[0]) == mask.sum()


def test_an_empty_mask_has_no_polygons() -> None:
    assert mask_to_polygons(np.zeros((3, 4), dtype=bool)) == []
    assert mask_to_polygons(np.zeros((0, 4), dtype=bool)) == []


# --- rasterised back by pycocotools -------------------------------------------------------------


ROUND_TRIP_MASKS = {
    "1x1": np.ones((1, 1), dtype=bool),
    "row": np.array([[1, 0, 1, 1, 0, 1]], dtype=bool),
    "column": np.array([[1], [1], [0], [1]], dtype=bool),
    "full": np.ones((5, 7), dtype=bool),
    "checkerboard": np.indices((7, 9)).sum(axis=0) % 2 == 0,
    "nested rings": _mask(
        [
            "#########",
            "#.......#",
            "#.#####.#",
            "#.#...#.#",
            "#.#.#.#.#",
            "#.#...#.#",
            "#.#####.#",
            "#.......#",
            "#########",
        ]
    ),
    "two holes, one under the other": _mask(
        [
            "#####",
            "#.#.#",
            "#####",
            "#..##",
            "#####",
        ]
    ),
    "comb": _mask(
        [
            "#######",
            "#.#.#.#",
            "#.#.#.#",
            "#.#.#..",
            "#######",
        ]
    ),
}


@pytest.mark.parametrize("name", list(ROUND_TRIP_MASKS))
def test_pycocotools_rasterises_the_polygons_back_to_the_mask(name: str) -> None:
    mask = ROUND_TRIP_MASKS[name]
    height, width = mask.shape

    polygons = mask_to_polygons(mask)

    np.testing.assert_array_equal(_rasterise_with_pycocotools(polygons, height, width), mask)


def test_pycocotools_rasterises_random_masks_back_exactly() -> None:
    rng = np.random.default_rng(0)
    for _ in range(150):
        height, width = (int(side) for side in rng.integers(1, 40, size=2))
        mask = rng.random((height, width)) < rng.random()

        polygons = mask_to_polygons(mask)

        np.testing.assert_array_equal(_rasterise_with_pycocotools(polygons, height, width), mask)


def test_pycocotools_rasterises_many_blobs_with_holes_back_exactly() -> None:
    rng = np.random.default_rng(1)
    rows, cols = np.indices((300, 400))
    mask = np.zeros((300, 400), dtype=bool)
    for row, col, radius in zip(
        rng.integers(0, 300, 40), rng.integers(0, 400, 40), rng.integers(4, 30, 40), strict=True
    ):
        distance = (rows - row) ** 2 + (cols - col) ** 2
        mask |= distance < radius**2
        mask &= distance >= (radius // 3) ** 2  # punch a hole

    polygons = mask_to_polygons(mask)

    np.testing.assert_array_equal(_rasterise_with_pycocotools(polygons, 300, 400), mask)


# --- geometry -----------------------------------------------------------------------------------


def test_polygons_are_axis_aligned_integer_paths_without_collinear_vertices() -> None:
    rng = np.random.default_rng(2)
    mask = rng.random((30, 40)) < 0.5

    for polygon in mask_to_polygons(mask):
        points = np.asarray(polygon).reshape(-1, 2)
        steps = np.roll(points, -1, axis=0) - points
        assert np.all(points == np.round(points))
        assert np.all((points >= 0) & (points <= [40, 30]))
        assert np.all((steps[:, 0] == 0) ^ (steps[:, 1] == 0)), "an edge is diagonal or empty"
        directions = np.sign(steps)
        assert not np.any(np.all(directions == np.roll(directions, -1, axis=0), axis=1))


def test_signed_areas_add_up_to_the_pixel_count() -> None:
    rng = np.random.default_rng(3)
    mask = rng.random((50, 60)) < 0.55

    polygons = mask_to_polygons(mask)

    # Clockwise on screen is a positive shoelace area with y pointing down; cuts add nothing.
    assert all(_shoelace(polygon) > 0 for polygon in polygons)
    assert sum(_shoelace(polygon) for polygon in polygons) == mask.sum()


@pytest.mark.parametrize(
    "mask",
    [np.ones((2, 3), dtype=np.uint8), np.ones((1, 2, 3), dtype=bool), [[True]]],
)
def test_rejects_anything_but_a_2d_bool_array(mask: Any) -> None:
    with pytest.raises(InputError, match="mask: expected a"):
        mask_to_polygons(mask)
