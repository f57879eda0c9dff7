"""A mask held as the pixels of its bounding box: what a very large image can afford.

A 20 000 x 20 000 image's full-size bool mask takes 400 MB; the same object held as its
bounding box takes what the object covers. :class:`CroppedMask` is the crop and where it lies.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from sam3lib.tiling.grid import Rect

__all__ = ["CroppedMask"]


@dataclass(frozen=True, eq=False)
class CroppedMask:
    """A binary mask of a large image, kept as its bounding box.

    Attributes:
        top, left: the image pixel of the crop's first row and column.
        pixels: (h, w) bool, the mask inside the box (every row and column has a pixel set
            when made by :meth:`from_mask`).
    """

    top: int
    left: int
    pixels: npt.NDArray[np.bool_]

    @classmethod
    def from_mask(
        cls, mask: npt.NDArray[np.bool_], top: int = 0, left: int = 0
    ) -> CroppedMask | None:
        """The tight crop of ``mask``, whose first pixel lies at (``top``, ``left``) in the
        image; ``None`` when the mask is empty.

        Example:
            >>> mask = np.zeros((4, 5), dtype=bool)
            >>> mask[1:3, 2] = True
            >>> crop = CroppedMask.from_mask(mask, top=100, left=10)
            >>> crop.rect, crop.area
            (Rect(top=101, left=12, bottom=103, right=13), 2)
        """
        rows = np.flatnonzero(mask.any(axis=1))
        if rows.size == 0:
            return None
        columns = np.flatnonzero(mask.any(axis=0))
        first_row, last_row = int(rows[0]), int(rows[-1]) + 1
        first_column, last_column = int(columns[0]), int(columns[-1]) + 1
        pixels = np.ascontiguousarray(mask[first_row:last_row, first_column:last_column])
        return cls(top + first_row, left + first_column, pixels)

    @property
    def rect(self) -> Rect:
        """Where the crop lies in the image."""
        height, width = self.pixels.shape
        return Rect(self.top, self.left, self.top + height, self.left + width)

    @property
    def area(self) -> int:
        """Pixels set."""
        return int(np.count_nonzero(self.pixels))

    def within(self, region: Rect) -> npt.NDArray[np.bool_]:
        """The mask inside ``region``, as a (region.height, region.width) bool array."""
        out = np.zeros((region.height, region.width), dtype=np.bool_)
        overlap = self.rect.intersection(region)
        if not overlap.empty:
            out[overlap.slices(region)] = self.pixels[overlap.slices(self.rect)]
        return out

    def full(self, image_size: tuple[int, int]) -> npt.NDArray[np.bool_]:
        """The full-size (H, W) mask."""
        height, width = image_size
        return self.within(Rect(0, 0, height, width))
