"""Opening uploaded image files, with the pixel limit checked before any pixel is decoded."""

from __future__ import annotations

import io
import warnings

from PIL import Image

from sam3lib.preprocess import IMAGE_DECODE_ERRORS
from sam3lib.server.errors import ApiError


def open_image(data: bytes, max_pixels: int) -> Image.Image:
    """Read the header of an image file and check its size; pixels are decoded later.

    Args:
        data: the file's bytes (PNG, JPEG, WebP, TIFF, ... whatever Pillow reads).
        max_pixels: largest width x height accepted.

    Returns:
        A lazily loaded PIL image: call :func:`load_image` (in a worker) to decode it.

    Raises:
        ApiError: 422 when it is not an image, 413 when it has too many pixels.

    Example:
        >>> buffer = io.BytesIO()
        >>> Image.new("RGB", (6, 4)).save(buffer, "PNG")
        >>> open_image(buffer.getvalue(), max_pixels=100).size
        (6, 4)
    """
    try:
        with warnings.catch_warnings():
            # Our own limit decides; Pillow's bomb warning would only add noise to the logs.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        raise ApiError(413, f"image: over the limit of {max_pixels} pixels") from None
    except IMAGE_DECODE_ERRORS:  # UnidentifiedImageError is an OSError
        raise ApiError(
            422, "image: not a readable image file (send PNG, JPEG, WebP, BMP, TIFF ...)"
        ) from None
    width, height = image.size
    if width * height > max_pixels:
        raise ApiError(
            413,
            f"image: {width}x{height} = {width * height} pixels is over the limit of "
            f"{max_pixels} pixels",
        )
    return image


def load_image(image: Image.Image) -> Image.Image:
    """Decode the pixels of an image from :func:`open_image`.

    Raises:
        ApiError: 422 when the file is truncated or damaged, 413 when Pillow finds a
            decompression bomb only while decoding.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image.load()
    except Image.DecompressionBombError as error:
        raise ApiError(413, f"image: too many pixels to decode ({error})") from None
    except IMAGE_DECODE_ERRORS as error:  # Pillow's plugins raise many kinds on damaged data
        raise ApiError(422, f"image: the file is damaged or truncated ({error})") from None
    return image
