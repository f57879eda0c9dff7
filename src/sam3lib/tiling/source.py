"""Tiles cut from the image as they are needed, so a huge image is never copied whole.

Arrays, tensors and PIL images are cut where they are: only one tile at a time is converted
to RGB uint8. A file is decoded once (Pillow cannot decode part of a PNG or JPEG).
"""

from __future__ import annotations

import os

import numpy as np
import torch
from PIL import Image, ImageOps

from sam3lib.errors import InputError
from sam3lib.preprocess import ImageLike, check_image_shape, to_rgb_uint8
from sam3lib.tiling.grid import Rect

__all__ = ["TileSource"]

_EXIF_ORIENTATION = 0x0112


class TileSource:
    """An image to cut tiles from.

    Args:
        image: a path, PIL image, numpy array (HW or HWC) or torch tensor (HW or CHW).

    Raises:
        InputError: not an image, or an unreadable file.

    Example:
        >>> source = TileSource(np.zeros((30, 50, 3), dtype=np.uint8))
        >>> source.size, tuple(source.crop(Rect(0, 10, 20, 40)).shape)
        ((30, 50), (3, 20, 30))
    """

    def __init__(self, image: ImageLike) -> None:
        self._image: np.ndarray | torch.Tensor | Image.Image
        if isinstance(image, (str, os.PathLike)):
            self._image = to_rgb_uint8(image)
            self.size = (int(self._image.shape[1]), int(self._image.shape[2]))
        elif isinstance(image, Image.Image):
            if image.getexif().get(_EXIF_ORIENTATION, 1) != 1:
                image = ImageOps.exif_transpose(image)  # masks must match what viewers show
            self._image = image
            self.size = (image.height, image.width)
        elif isinstance(image, np.ndarray):
            array = np.asarray(image)
            check_image_shape(
                array.shape, channels_first=False, argument="image", kind="numpy array"
            )
            self._image = array
            self.size = (int(array.shape[0]), int(array.shape[1]))
        elif isinstance(image, torch.Tensor):
            check_image_shape(
                tuple(image.shape), channels_first=True, argument="image", kind="torch tensor"
            )
            self._image = image
            self.size = (int(image.shape[-2]), int(image.shape[-1]))
        else:
            to_rgb_uint8(image)  # raises the InputError that lists what is accepted
            raise InputError(f"image: unsupported type {type(image).__name__}")

    def crop(self, rect: Rect) -> torch.Tensor:
        """The pixels of ``rect`` as a new (3, h, w) uint8 RGB tensor."""
        image = self._image
        rows, columns = rect.slices()
        if isinstance(image, Image.Image):
            return to_rgb_uint8(image.crop((rect.left, rect.top, rect.right, rect.bottom)))
        if isinstance(image, np.ndarray):
            return to_rgb_uint8(image[rows, columns])
        return to_rgb_uint8(image[..., rows, columns])
