"""Tiled inference for images much larger than the model input (aerial, slides, 4K).

``Segmenter.segment(image, "building", tiles=TileOptions(...))`` cuts the image into
overlapping tiles (:mod:`~sam3lib.tiling.grid`), segments each one as an image of its own
(:mod:`~sam3lib.tiling.segment`), maps instances back to the image as cropped masks
(:mod:`~sam3lib.tiling.cropped`) and merges objects cut by tile borders or seen twice in an
overlap (:mod:`~sam3lib.tiling.merge`) into a :class:`TiledSegmentationResult`.
"""

from sam3lib.tiling.cropped import CroppedMask
from sam3lib.tiling.grid import Rect, Tile, tile_grid
from sam3lib.tiling.interactive import WindowedInteractiveResult
from sam3lib.tiling.options import TileOptions, Tiles, TilingAdvice, suggest_tiles
from sam3lib.tiling.result import TiledSegmentationResult

__all__ = [
    "CroppedMask",
    "Rect",
    "Tile",
    "TileOptions",
    "TiledSegmentationResult",
    "Tiles",
    "TilingAdvice",
    "WindowedInteractiveResult",
    "suggest_tiles",
    "tile_grid",
]
