"""Where tiles go: inside the image, whole, overlapping by at least what was asked, and each
pixel owned by exactly one tile; and the options' typed errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sam3lib.errors import InputError
from sam3lib.tiling import TileOptions, suggest_tiles, tile_grid
from sam3lib.tiling.options import resolve_tiles


@settings(max_examples=60, deadline=None)
@given(
    height=st.integers(1, 700),
    width=st.integers(1, 700),
    size=st.integers(16, 300),
    overlap_fraction=st.floats(0, 0.9),
)
def test_tiles_cover_the_image_and_own_each_pixel_once(
    height: int, width: int, size: int, overlap_fraction: float
) -> None:
    overlap = min(int(size * overlap_fraction), size - 1)
    tiles = tile_grid((height, width), TileOptions(size=size, overlap=overlap))
    seen = np.zeros((height, width), dtype=np.int64)
    owners = np.zeros((height, width), dtype=np.int64)
    for tile in tiles:
        rect, owned = tile.rect, tile.owned
        assert 0 <= rect.top < rect.bottom <= height and 0 <= rect.left < rect.right <= width
        assert rect.height == min(size, height) and rect.width == min(size, width)
        assert rect.intersection(owned) == owned  # a tile owns only pixels it sees
        seen[rect.slices()] += 1
        owners[owned.slices()] += 1
    assert (seen >= 1).all()
    assert (owners == 1).all()
    # Neighbours (next column, next row) share at least `overlap` pixels.
    lefts = sorted({tile.rect.left for tile in tiles})
    rights = sorted({tile.rect.right for tile in tiles})
    assert all(
        right - next_left >= overlap
        for right, next_left in zip(rights[:-1], lefts[1:], strict=True)
    )
    tops = sorted({tile.rect.top for tile in tiles})
    bottoms = sorted({tile.rect.bottom for tile in tiles})
    assert all(
        bottom - next_top >= overlap
        for bottom, next_top in zip(bottoms[:-1], tops[1:], strict=True)
    )


def test_as_few_tiles_as_the_overlap_allows() -> None:
    # 1000 px with 300 px tiles overlapping by 50: 4 tiles advance 250 each, 3 would not reach.
    tiles = tile_grid((300, 1000), TileOptions(size=300, overlap=50))
    assert [(t.rect.left, t.rect.right) for t in tiles] == [
        (0, 300),
        (233, 533),
        (467, 767),
        (700, 1000),
    ]
    assert [(t.owned.left, t.owned.right) for t in tiles] == [
        (0, 266),
        (266, 500),
        (500, 733),
        (733, 1000),
    ]


def test_an_image_smaller_than_a_tile_is_one_tile_of_its_size() -> None:
    (tile,) = tile_grid((40, 70), TileOptions(size=100, overlap=30))
    assert (tile.rect.height, tile.rect.width) == (40, 70) and tile.owned == tile.rect


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"size": 100, "overlap": 100}, "tiles.overlap"),
        ({"size": 100, "overlap": 250}, "tiles.overlap"),
        ({"size": 8}, "tiles.size"),
        ({"size": 512.0}, "tiles.size"),
        ({"overlap": -1}, "tiles.overlap"),
        ({"batch_size": 0}, "tiles.batch_size"),
        ({"match_iou": 1.5}, "tiles.match_iou"),
        ({"match_iou": 0.0}, "tiles.match_iou"),
        ({"progress": "yes"}, "tiles.progress"),
    ],
)
def test_bad_options_name_the_field(fields: dict[str, object], named: str) -> None:
    with pytest.raises(InputError, match=named.replace(".", r"\.")):
        TileOptions(**fields)  # type: ignore[arg-type]


def test_tiles_smaller_than_the_overlap_say_what_to_use() -> None:
    with pytest.raises(InputError, match=r"not smaller than tiles\.size.*at most 50"):
        TileOptions(size=100, overlap=120)


def test_auto_tiles_only_images_over_twice_the_input() -> None:
    assert suggest_tiles((2016, 2016), 1008) is None
    assert suggest_tiles((2017, 300), 1008) == TileOptions(size=1008, overlap=126)
    assert resolve_tiles("auto", (900, 1500), 1008) == TileOptions(size=1500, overlap=0)
    options = TileOptions(size=640, overlap=64)
    assert resolve_tiles(options, (10_000, 10_000), 1008) is options
    with pytest.raises(InputError, match="tiles: expected a TileOptions, 'auto' or None"):
        resolve_tiles(512, (10_000, 10_000), 1008)
