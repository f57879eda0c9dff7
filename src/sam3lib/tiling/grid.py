"""Where the tiles of an image lie, and which pixels each tile answers for.

Along each axis, tiles of ``size`` are spread evenly from the first pixel to the last, as few
as give every pair of neighbours at least ``overlap`` pixels in common. Each tile *owns* the
pixels closer to its centre than to a neighbour's: the owned rectangles split every overlap at
its middle and together cover the image exactly once. When a cut object is merged, each pixel
comes from the tile that owns it, the one that saw it farthest from a border.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import pairwise

from sam3lib.tiling.options import TileOptions

__all__ = ["Rect", "Tile", "tile_grid"]


@dataclass(frozen=True)
class Rect:
    """A pixel rectangle, half-open: rows ``top:bottom``, columns ``left:right``."""

    top: int
    left: int
    bottom: int
    right: int

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def width(self) -> int:
        return self.right - self.left

    @property
    def empty(self) -> bool:
        return self.bottom <= self.top or self.right <= self.left

    def intersection(self, other: Rect) -> Rect:
        return Rect(
            max(self.top, other.top),
            max(self.left, other.left),
            min(self.bottom, other.bottom),
            min(self.right, other.right),
        )

    def union(self, other: Rect) -> Rect:
        """The smallest rectangle holding both."""
        return Rect(
            min(self.top, other.top),
            min(self.left, other.left),
            max(self.bottom, other.bottom),
            max(self.right, other.right),
        )

    def contains_box(self, x0: float, y0: float, x1: float, y1: float) -> bool:
        """Whether the xyxy pixel box lies inside this rectangle."""
        return self.left <= x0 and self.top <= y0 and x1 <= self.right and y1 <= self.bottom

    def slices(self, origin: Rect | None = None) -> tuple[slice, slice]:
        """Row and column slices of this rectangle, relative to ``origin``'s top-left."""
        top, left = (0, 0) if origin is None else (origin.top, origin.left)
        return (
            slice(self.top - top, self.bottom - top),
            slice(self.left - left, self.right - left),
        )


@dataclass(frozen=True)
class Tile:
    """One tile: ``index`` in row-major order, the pixels it sees and the pixels it owns."""

    index: int
    rect: Rect
    owned: Rect


def tile_grid(image_size: tuple[int, int], options: TileOptions) -> list[Tile]:
    """The tiles covering an image of ``image_size`` (H, W), row by row.

    Example:
        >>> [t.rect for t in tile_grid((100, 180), TileOptions(size=100, overlap=20))]
        [Rect(top=0, left=0, bottom=100, right=100), Rect(top=0, left=80, bottom=100, right=180)]
        >>> [t.owned.right for t in tile_grid((100, 180), TileOptions(size=100, overlap=20))]
        [90, 180]
    """
    height, width = image_size
    rows = _spans(height, options.size, options.overlap)
    columns = _spans(width, options.size, options.overlap)
    row_owned = _owned(rows)
    column_owned = _owned(columns)
    tiles = []
    for row, ((top, bottom), (own_top, own_bottom)) in enumerate(zip(rows, row_owned, strict=True)):
        for column, ((left, right), (own_left, own_right)) in enumerate(
            zip(columns, column_owned, strict=True)
        ):
            tiles.append(
                Tile(
                    index=row * len(columns) + column,
                    rect=Rect(top, left, bottom, right),
                    owned=Rect(own_top, own_left, own_bottom, own_right),
                )
            )
    return tiles


def _spans(length: int, size: int, overlap: int) -> list[tuple[int, int]]:
    """Start and end of each tile along one axis of ``length`` pixels."""
    if length <= size:
        return [(0, length)]
    count = math.ceil((length - overlap) / (size - overlap))
    # Even spacing from 0 to length - size; the rounding keeps every step <= size - overlap.
    starts = [round(index * (length - size) / (count - 1)) for index in range(count)]
    return [(start, start + size) for start in starts]


def _owned(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Split each overlap at its middle: the part each span answers for."""
    cuts = [(end + next_start) // 2 for (_, end), (next_start, _) in pairwise(spans)]
    starts = [spans[0][0], *cuts]
    ends = [*cuts, spans[-1][1]]
    return list(zip(starts, ends, strict=True))
