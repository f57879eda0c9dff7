"""Decode and resize images ahead of the model, in a bounded pool of threads.

Decoding a large JPEG costs more than the tiny model and a noticeable part of the full one;
Pillow's decoders and torch's resize release the GIL, so threads overlap them with the model.
At most ``prefetch`` decoded images wait at any time, so memory does not grow with the
dataset. Each image is reduced to the model's (3, S, S) uint8 input at once; the full-size
pixels are kept only when overlays are drawn.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image

from sam3lib.errors import InputError
from sam3lib.labelling.sources import SourceItem
from sam3lib.preprocess import IMAGE_DECODE_ERRORS, resize_uint8, to_rgb_uint8

__all__ = ["DEFAULT_MAX_PIXELS", "LoadFailure", "LoadedImage", "load_image", "prefetch_images"]

# 15 000 × 10 000: decoding alone needs 450 MB; under Pillow's own limit (MAX_IMAGE_PIXELS).
DEFAULT_MAX_PIXELS = 150_000_000


@dataclass(frozen=True)
class LoadedImage:
    """An image ready for the model.

    Attributes:
        item: where it came from.
        resized: (3, S, S) uint8, the model input before normalisation.
        original_size: (height, width) as displayed (EXIF orientation applied).
        rgb: (3, H, W) uint8 full-size pixels, only where ``keep_rgb(item)`` said so (to draw
            an overlay, or to save an in-memory image).
        seconds: time spent decoding and resizing.
    """

    item: SourceItem
    resized: torch.Tensor
    original_size: tuple[int, int]
    rgb: torch.Tensor | None = field(default=None, repr=False)
    seconds: float = 0.0


@dataclass(frozen=True)
class LoadFailure:
    """An image that could not be used, and why (recorded; the run goes on)."""

    item: SourceItem
    reason: str


def load_image(
    item: SourceItem,
    image_size: int,
    *,
    max_pixels: int,
    keep_rgb: Callable[[SourceItem], bool] = lambda item: False,
) -> LoadedImage | LoadFailure:
    """Decode ``item`` and resize it to the model's input, or say why it cannot be.

    Example:
        >>> import numpy as np
        >>> item = SourceItem(0, "image-000000", "image-000000.png", np.zeros((8, 6, 3), np.uint8))
        >>> load_image(item, 4, max_pixels=100).original_size
        (8, 6)
    """
    started = time.perf_counter()
    try:
        if item.path is not None:
            _check_not_empty(item.path)
            _check_file(item.path, max_pixels)
        rgb = to_rgb_uint8(item.image, argument="image")
    except InputError as error:
        return LoadFailure(item, str(error).removeprefix("image: "))
    height, width = int(rgb.shape[1]), int(rgb.shape[2])
    if height * width > max_pixels:
        return LoadFailure(item, _too_large(height, width, max_pixels))
    resized = resize_uint8(rgb, image_size)
    return LoadedImage(
        item=item,
        resized=resized,
        original_size=(height, width),
        rgb=rgb if keep_rgb(item) else None,
        seconds=time.perf_counter() - started,
    )


def prefetch_images(
    items: Iterable[SourceItem],
    image_size: int,
    *,
    workers: int,
    prefetch: int,
    max_pixels: int,
    keep_rgb: Callable[[SourceItem], bool] = lambda item: False,
) -> Iterator[LoadedImage | LoadFailure]:
    """:func:`load_image` of each item, in source order, ``workers`` threads ahead of the
    consumer and at most ``prefetch`` images waiting.

    ``workers=0`` loads in the calling thread (no pool).
    """
    if workers <= 0:
        for item in items:
            yield load_image(item, image_size, max_pixels=max_pixels, keep_rgb=keep_rgb)
        return
    pending: deque[Future[LoadedImage | LoadFailure]] = deque()
    source = iter(items)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="sam3lib-load") as pool:
        try:
            for item in source:
                pending.append(
                    pool.submit(
                        load_image, item, image_size, max_pixels=max_pixels, keep_rgb=keep_rgb
                    )
                )
                if len(pending) >= max(prefetch, 1):
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:  # the consumer stopped early: do not decode what nobody will read
            for future in pending:
                future.cancel()


def _check_file(path: object, max_pixels: int) -> None:
    """Refuse an image whose header announces more than ``max_pixels``, before decoding it."""
    try:
        with Image.open(path) as opened:  # type: ignore[arg-type]
            width, height = opened.size
    except Image.DecompressionBombError as error:
        raise InputError(f"image: {error}") from None
    except (FileNotFoundError, IsADirectoryError):
        return  # to_rgb_uint8 says what is wrong, in the same words as Segmenter.segment
    except IMAGE_DECODE_ERRORS:
        return
    if width * height > max_pixels:
        raise InputError(_too_large(height, width, max_pixels))


def _check_not_empty(path: Path) -> None:
    try:
        empty = path.is_file() and path.stat().st_size == 0
    except OSError:
        return  # to_rgb_uint8 says what is wrong
    if empty:
        raise InputError(f"'{path}' is an empty file (0 bytes)")


def _too_large(height: int, width: int, max_pixels: int) -> str:
    return (
        f"{width}x{height} = {width * height} pixels is over the limit max_pixels={max_pixels}; "
        "raise it to label this image"
    )
