"""Drawing segmentation results over their image, for a quick look at what was found.

Each instance gets its own colour (:func:`instance_colors`): its mask is blended over the
image, its boundary drawn opaque in a darker or brighter shade, and a "label score" tag placed
at the top-left of its box, in a font that has the label's glyphs (:mod:`sam3lib.fonts`: a
CJK font for Chinese labels). Everything is drawn at the image's original size.

Tracked objects (:func:`draw_tracked`) are drawn the same way, with an "id N" tag and a colour
derived from the object's id alone (:func:`object_color`), so an object keeps its colour on
every frame of a video, whichever other objects are shown.
"""

from __future__ import annotations

import colorsys
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

from sam3lib.errors import InputError
from sam3lib.fonts import Font, tag_font
from sam3lib.preprocess import ImageLike, to_rgb_uint8
from sam3lib.result import SegmentationResult

__all__ = ["draw_overlay", "draw_tracked", "instance_colors", "object_color"]

Color = tuple[int, int, int]
Rectangle = tuple[int, int, int, int]  # x0, y0, x1, y1, inclusive
Instance = tuple[str, npt.NDArray[np.float32], npt.NDArray[np.bool_], Color]  # tag, box, mask

# Stepping the hue by the golden angle (1 - 1/φ of a turn) keeps any run of consecutive
# colours far apart on the colour wheel, however many there are.
_GOLDEN_TURN = (3.0 - math.sqrt(5.0)) / 2.0
_FIRST_HUE = 0.58  # a clear blue first; reds and greens follow
_SATURATION = 0.75
_VALUE = 0.95
_SHADE = 0.55  # how far the edge colour moves towards black or white
_TAG_PADDING = 2  # pixels between the tag text and its box


def instance_colors(count: int) -> list[Color]:
    """Distinct, well separated RGB colours, the same for the same ``count`` every time.

    Args:
        count: how many colours.

    Returns:
        ``count`` (r, g, b) tuples of uint8 values; the first k are the same for every
        ``count`` >= k, so an instance keeps its colour when more are added.

    Raises:
        InputError: ``count`` is not a non-negative int.

    Example:
        >>> instance_colors(3)
        [(61, 155, 242), (242, 61, 102), (61, 242, 72)]
    """
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise InputError(f"count: expected a non-negative int, got {count!r}")
    return [_golden_color(index) for index in range(count)]


def object_color(object_id: int) -> Color:
    """The colour of a tracked object: a function of its id alone.

    It is ``instance_colors(object_id + 1)[object_id]``: the same on every frame and in every
    run, whichever other objects are shown, and consecutive ids (objects found together) get
    colours far apart.

    Args:
        object_id: the object's stable id, a non-negative int.

    Returns:
        (r, g, b) uint8 values.

    Raises:
        InputError: ``object_id`` is not a non-negative int.

    Example:
        >>> object_color(0), object_color(2)
        ((61, 155, 242), (61, 242, 72))
    """
    valid = isinstance(object_id, (int, np.integer)) and not isinstance(object_id, bool)
    if not valid or object_id < 0:
        raise InputError(f"object_id: expected a non-negative int, got {object_id!r}")
    return _golden_color(int(object_id))


def _golden_color(index: int) -> Color:
    hue = (_FIRST_HUE + index * _GOLDEN_TURN) % 1.0
    red, green, blue = colorsys.hsv_to_rgb(hue, _SATURATION, _VALUE)
    return (round(red * 255), round(green * 255), round(blue * 255))


def draw_overlay(
    image: ImageLike,
    results: Sequence[SegmentationResult],
    *,
    alpha: float = 0.45,
    edge_width: int = 2,
    show_labels: bool = True,
) -> Image.Image:
    """Draws the instances of one or more results over their image.

    Instances are numbered across ``results`` in order and coloured with
    :func:`instance_colors`; later instances are painted over earlier ones where they overlap.
    Each mask is blended as ``(1 - alpha) * image + alpha * colour``; the mask pixels within
    ``edge_width`` of its outside (the image border counts as outside) take an opaque darker
    shade of the colour (brighter for dark colours); with ``show_labels``, a tag
    ``"label 0.87"`` in a box of the instance colour sits on the top-left corner of the
    instance's box, above it where there is room, always inside the image.

    Args:
        image: the image the results were computed on: a path, PIL image, numpy array or torch
            tensor (see :func:`sam3lib.preprocess.to_rgb_uint8`).
        results: the results to draw, all at the image's size.
        alpha: opacity of the mask fill, 0 (invisible) to 1 (opaque).
        edge_width: width of the drawn boundary in pixels; 0 draws none.
        show_labels: whether to draw the label and score tags.

    Returns:
        A new RGB image at the original size; a plain copy of the image when there is nothing
        to draw.

    Raises:
        InputError: the image is not readable, a result's ``image_size`` differs from the
            image's, or a style argument is out of range.

    Example:
        >>> import numpy as np
        >>> from sam3lib.result import SegmentationResult
        >>> masks = np.zeros((1, 40, 60), dtype=bool)
        >>> masks[0, 10:30, 20:50] = True
        >>> result = SegmentationResult(
        ...     masks=masks,
        ...     boxes=np.array([[20, 10, 50, 30]], dtype=np.float32),
        ...     scores=np.array([0.87], dtype=np.float32),
        ...     prompt="cat",
        ...     image_size=(40, 60),
        ... )
        >>> picture = draw_overlay(np.zeros((40, 60, 3), dtype=np.uint8), [result])
        >>> picture.size, picture.mode
        ((60, 40), 'RGB')
    """
    pixels = to_rgb_uint8(image).permute(1, 2, 0).numpy()  # (H, W, 3), a fresh copy
    _check_style(alpha, edge_width)
    _check_results(results, (pixels.shape[0], pixels.shape[1]))
    found = [
        (f"{result.label} {float(score):.2f}", box, mask)
        for result in results
        for score, box, mask in zip(result.scores, result.boxes, result.masks, strict=True)
    ]
    colors = instance_colors(len(found))
    instances = [(*tag_box_mask, color) for tag_box_mask, color in zip(found, colors, strict=True)]
    return _draw_instances(pixels, instances, alpha, edge_width, show_labels)


def draw_tracked(
    image: ImageLike,
    masks: npt.NDArray[np.bool_],
    object_ids: npt.NDArray[np.integer[Any]] | Sequence[int],
    boxes: npt.NDArray[np.floating[Any]],
    *,
    alpha: float = 0.45,
    edge_width: int = 2,
    show_labels: bool = True,
) -> Image.Image:
    """Draws tracked objects over their frame, each in its own :func:`object_color`.

    Drawn as :func:`draw_overlay` draws instances (blended fill, opaque edge, later objects
    over earlier ones), with an ``"id N"`` tag; an object's colour follows from its id alone,
    so it is the same on every frame of a video.

    Args:
        image: the frame, anything :func:`sam3lib.preprocess.to_rgb_uint8` takes (a (3, H, W)
            uint8 tensor, an (H, W, 3) array, a PIL image, a path).
        masks: (K, H, W) bool, at the image's size.
        object_ids: (K,) the objects' stable non-negative ids.
        boxes: (K, 4) xyxy pixel edges around each mask (where the tags go).
        alpha: opacity of the mask fill, 0 (invisible) to 1 (opaque).
        edge_width: width of the drawn boundary in pixels; 0 draws none.
        show_labels: whether to draw the ``"id N"`` tags.

    Returns:
        A new RGB image at the original size.

    Raises:
        InputError: the image is not readable, ``masks``, ``object_ids`` and ``boxes`` do not
            fit each other or the image, an id is negative, or a style argument is out of range.

    Example:
        >>> import numpy as np
        >>> masks = np.zeros((1, 40, 60), dtype=bool)
        >>> masks[0, 10:30, 20:50] = True
        >>> boxes = np.array([[20, 10, 50, 30]], dtype=np.float32)
        >>> picture = draw_tracked(np.zeros((40, 60, 3), np.uint8), masks, [7], boxes)
        >>> picture.getpixel((35, 25)) == tuple(round(0.45 * c) for c in object_color(7))
        True
    """
    pixels = to_rgb_uint8(image).permute(1, 2, 0).numpy()  # (H, W, 3), a fresh copy
    _check_style(alpha, edge_width)
    size = (pixels.shape[0], pixels.shape[1])
    if (
        not isinstance(masks, np.ndarray)
        or masks.dtype != np.bool_
        or masks.ndim != 3
        or masks.shape[1:] != size
    ):
        raise InputError(
            f"masks: expected (K, {size[0]}, {size[1]}) bool (at the image's size), got "
            f"{getattr(masks, 'shape', type(masks).__name__)} {getattr(masks, 'dtype', '')}"
        )
    count = len(masks)
    ids = np.asarray(object_ids)
    if ids.shape != (count,) or (count and not np.issubdtype(ids.dtype, np.integer)):
        raise InputError(f"object_ids: expected ({count},) ints, got {ids.shape} {ids.dtype}")
    if np.shape(boxes) != (count, 4):
        raise InputError(f"boxes: expected ({count}, 4) xyxy, got {np.shape(boxes)}")
    colors = [object_color(int(object_id)) for object_id in ids]
    instances = [
        (f"id {int(object_id)}", np.asarray(box, np.float32), mask, color)
        for object_id, box, mask, color in zip(ids, boxes, masks, colors, strict=True)
    ]
    return _draw_instances(pixels, instances, alpha, edge_width, show_labels)


def _draw_instances(
    pixels: npt.NDArray[np.uint8],
    instances: Sequence[Instance],
    alpha: float,
    edge_width: int,
    show_labels: bool,
) -> Image.Image:
    """Draws (tag, box, mask, colour) instances in order over (H, W, 3) ``pixels``."""
    if not instances:
        return Image.fromarray(pixels)
    height, width = pixels.shape[:2]
    blended = pixels.astype(np.float32)
    for _, _, mask, color in instances:
        blended[mask] = (1.0 - alpha) * blended[mask] + alpha * np.asarray(color, np.float32)
    drawn = np.rint(blended).astype(np.uint8)
    if edge_width > 0:
        for _, _, mask, color in instances:
            drawn[_inner_boundary(mask, edge_width)] = _edge_color(color)

    picture = Image.fromarray(drawn)
    if show_labels:
        draw = ImageDraw.Draw(picture)
        font_size = _font_size(height, width)
        placed: list[Rectangle] = []
        for text, box, _, color in instances:
            font = tag_font(text, font_size)
            tag = _draw_tag(draw, text, box, color, font, (height, width), placed)
            placed.append(tag)
    return picture


def _check_style(alpha: float, edge_width: int) -> None:
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0.0 <= alpha <= 1.0:
        raise InputError(f"alpha: expected a number in [0, 1], got {alpha!r}")
    if isinstance(edge_width, bool) or not isinstance(edge_width, int) or edge_width < 0:
        raise InputError(f"edge_width: expected a non-negative int, got {edge_width!r}")


def _check_results(results: Sequence[SegmentationResult], size: tuple[int, int]) -> None:
    if isinstance(results, SegmentationResult):
        raise InputError("results: expected a sequence of results; wrap a single one in a list")
    for index, result in enumerate(results):
        if not isinstance(result, SegmentationResult):
            raise InputError(
                f"results[{index}]: expected a SegmentationResult, got {type(result).__name__}"
            )
        if result.image_size != size:
            raise InputError(
                f"image: its size {size} (H, W) differs from results[{index}].image_size "
                f"{result.image_size}; draw results on the image they were computed on"
            )


def _inner_boundary(mask: npt.NDArray[np.bool_], width: int) -> npt.NDArray[np.bool_]:
    """Mask pixels with a non-mask pixel within ``width`` (Chebyshev distance)."""
    boundary = np.zeros_like(mask)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return boundary
    # Working inside the mask's bounding box keeps this cheap for small instances; padding
    # with False makes the box's outside (and the image border) count as outside the mask.
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    crop = mask[top:bottom, left:right]
    padded = np.pad(crop, width)
    window = 2 * width + 1
    interior = np.lib.stride_tricks.sliding_window_view(padded, window, axis=0).all(axis=-1)
    interior = np.lib.stride_tricks.sliding_window_view(interior, window, axis=1).all(axis=-1)
    boundary[top:bottom, left:right] = crop & ~interior
    return boundary


def _luminance(color: Color) -> float:
    red, green, blue = color
    return (0.2126 * red + 0.7152 * green + 0.0722 * blue) / 255.0


def _edge_color(color: Color) -> Color:
    # Darker edges on light colours and lighter ones on dark colours stay visible on the fill.
    if _luminance(color) > 0.5:
        shaded = [channel * (1.0 - _SHADE) for channel in color]
    else:
        shaded = [channel + (255 - channel) * _SHADE for channel in color]
    return (round(shaded[0]), round(shaded[1]), round(shaded[2]))


def _font_size(height: int, width: int) -> int:
    return max(12, round(min(height, width) / 45))


def _draw_tag(
    draw: ImageDraw.ImageDraw,
    text: str,
    box: npt.NDArray[np.float32],
    color: Color,
    font: Font,
    size: tuple[int, int],
    placed: Sequence[Rectangle],
) -> Rectangle:
    """Draws a tag at the box's top-left corner, below earlier ``placed`` tags it would hide.

    Returns:
        The tag's rectangle (x0, y0, x1, y1), inclusive.
    """
    height, width = size
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    tag_width = int(right - left) + 2 * _TAG_PADDING
    tag_height = int(bottom - top) + 2 * _TAG_PADDING
    x = math.floor(float(box[0]))
    y = math.floor(float(box[1])) - tag_height  # above the box, off the object ...
    if y < 0:
        y += tag_height  # ... unless the box starts at the top: then just inside it
    x = max(0, min(x, width - tag_width))
    y = max(0, min(y, height - tag_height))
    # Instances found by several prompts often share a box: stack their tags downwards.
    while any(_overlap((x, y, x + tag_width - 1, y + tag_height - 1), other) for other in placed):
        if y + 2 * tag_height > height:
            break  # no room left below: overlap rather than leave the image
        y += tag_height
    rectangle = (x, y, x + tag_width - 1, y + tag_height - 1)
    draw.rectangle(rectangle, fill=color)
    text_color = (0, 0, 0) if _luminance(color) > 0.5 else (255, 255, 255)
    draw.text((x + _TAG_PADDING - left, y + _TAG_PADDING - top), text, fill=text_color, font=font)
    return rectangle


def _overlap(a: Rectangle, b: Rectangle) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]
