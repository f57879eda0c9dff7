"""How a large image is cut into tiles: :class:`TileOptions`, and a suggestion for an image.

Sizes are in pixels of the original image. Each tile is resized to the model's input (1008²
for SAM 3) like any image, so a tile of 1008 px sees the image at its own scale, and a tile
of 504 px sees it magnified twice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, TypeAlias

from sam3lib.errors import InputError
from sam3lib.postprocess._checks import check_int, check_unit_interval

__all__ = ["TileOptions", "Tiles", "TilingAdvice", "resolve_tiles", "suggest_tiles"]

#: Tiling pays off once the image is this many times the model input, side for side: below,
#: squeezing it into one input loses little and costs one encoding instead of several.
SUGGEST_ABOVE = 2.0


@dataclass(frozen=True)
class TileOptions:
    """Tiled inference for images much larger than the model input.

    Attributes:
        size: side of a square tile, in pixels of the original image (tiles at the image's
            right and bottom edges are shifted inwards so every tile is whole; an image
            smaller than a tile is one tile of its own size).
        overlap: pixels two neighbouring tiles share, at least. An object cut by one tile's
            border is seen whole, or in part from both sides, in the overlap, where the two
            detections are matched and merged; make it larger than the objects you care
            about crossing borders are wide, or at least a good part of them.
        batch_size: tiles encoded in one call of the image encoder (GPUs profit from 2-8;
            on the CPU 1 is as fast and holds less memory).
        match_iou: two detections from neighbouring tiles are one object when their masks,
            inside the pixels both tiles see, have at least this IoU.
        progress: show a progress bar over tiles; ``None``: only on a terminal.

    Raises:
        InputError: a field out of range, e.g. an ``overlap`` not smaller than ``size``
            (the message names the field).

    Example:
        >>> TileOptions(size=1008, overlap=128)
        TileOptions(size=1008, overlap=128, batch_size=1, match_iou=0.5, progress=None)
    """

    size: int = 1008
    overlap: int = 128
    batch_size: int = 1
    match_iou: float = 0.5
    progress: bool | None = None

    def __post_init__(self) -> None:
        check_int(self.size, "tiles.size", minimum=16)
        check_int(self.overlap, "tiles.overlap", minimum=0)
        check_int(self.batch_size, "tiles.batch_size", minimum=1)
        check_unit_interval(self.match_iou, "tiles.match_iou")
        if self.match_iou == 0.0:
            raise InputError(
                "tiles.match_iou: must be above 0, or every pair of detections that merely "
                "touch the overlap would be merged"
            )
        if self.overlap >= self.size:
            raise InputError(
                f"tiles.overlap: {self.overlap} px is not smaller than tiles.size "
                f"({self.size} px): tiles would not advance; use an overlap of at most "
                f"{self.size // 2} (a quarter of the size is typical)"
            )
        if self.progress is not None and not isinstance(self.progress, bool):
            raise InputError(f"tiles.progress: expected True, False or None, got {self.progress!r}")


def suggest_tiles(image_size: tuple[int, int], model_size: int) -> TileOptions | None:
    """Tiles for an image of ``image_size`` (H, W) seen by a model of input ``model_size``.

    Returns ``None`` when the image's longer side is at most :data:`SUGGEST_ABOVE` times the
    model input (one pass loses little there); otherwise tiles of the model's input size, so
    objects are seen at the image's own scale, overlapping by an eighth.

    Example:
        >>> suggest_tiles((800, 1200), 1008) is None
        True
        >>> suggest_tiles((10_000, 10_000), 1008)
        TileOptions(size=1008, overlap=126, batch_size=1, match_iou=0.5, progress=None)
    """
    if max(image_size) <= SUGGEST_ABOVE * model_size:
        return None
    return TileOptions(size=model_size, overlap=math.ceil(model_size / 8))


#: ``tiles=`` takes options, or ``"auto"``: :func:`suggest_tiles`, one tile for a small image.
Tiles: TypeAlias = "TileOptions | Literal['auto']"


class TilingAdvice(UserWarning):
    """Warned when an image much larger than the model input is segmented in one pass."""


def resolve_tiles(tiles: object, image_size: tuple[int, int], model_size: int) -> TileOptions:
    """The options ``tiles=`` stands for on an image of ``image_size`` (H, W).

    Example:
        >>> resolve_tiles("auto", (500, 700), 1008)
        TileOptions(size=700, overlap=0, batch_size=1, match_iou=0.5, progress=None)
    """
    if isinstance(tiles, TileOptions):
        return tiles
    if tiles == "auto":
        suggested = suggest_tiles(image_size, model_size)
        # A small image: one tile, the image itself.
        return suggested or TileOptions(size=max(16, *image_size), overlap=0)
    raise InputError(f"tiles: expected a TileOptions, 'auto' or None, got {tiles!r}")


def tiling_advice(image_size: tuple[int, int], model_size: int) -> str | None:
    """Why and how to tile an image this large, or ``None`` when one pass is fine."""
    suggested = suggest_tiles(image_size, model_size)
    if suggested is None:
        return None
    height, width = image_size
    return (
        f"the image is {width}x{height} px, {max(image_size) / model_size:.1f}x the model's "
        f"{model_size} px input: squeezed into one input, small objects are lost; segment "
        f"it in tiles with tiles='auto' (here {suggested}; on the command line --tiles auto)"
    )
