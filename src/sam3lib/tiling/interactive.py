"""Clicks and boxes on a very large image: the interactive head runs on a window around them.

The window is a tile-sized square centred on the prompt's anchor: the box's centre when there
is one, else the first click (for several ``boxes``, the centre of all of them). Adding clicks
to refine an object keeps the anchor, so the window stays where it is and an earlier answer's
low-resolution logits (``mask_input``) still line up. Every click and box must lie inside the
window. The answer's masks come back as crops in pixels of the whole image.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from sam3lib.errors import InputError
from sam3lib.interactive.prompts import as_float_array, check_interactive_prompt
from sam3lib.interactive.result import OBJECT_LABEL, InteractiveResult
from sam3lib.preprocess import ImageLike
from sam3lib.tiling.cropped import CroppedMask
from sam3lib.tiling.grid import Rect
from sam3lib.tiling.options import resolve_tiles
from sam3lib.tiling.result import TiledSegmentationResult
from sam3lib.tiling.source import TileSource

__all__ = ["WindowPrompt", "WindowedInteractiveResult", "prompt_window"]


@dataclass(frozen=True)
class WindowPrompt:
    """A checked interactive prompt in pixels of the image (each part may be absent)."""

    points: npt.NDArray[np.float64] | None  # (P, 2) xy
    box: npt.NDArray[np.float64] | None  # (4,) xyxy
    boxes: npt.NDArray[np.float64] | None  # (N, 4) xyxy

    def anchor(self) -> tuple[float, float]:
        """(x, y) the window is centred on."""
        if self.box is not None:
            return _centre(self.box[None])
        if self.points is not None:
            return float(self.points[0, 0]), float(self.points[0, 1])
        assert self.boxes is not None
        return _centre(self.boxes)

    def shifted(self, window: Rect) -> WindowPrompt:
        """The same prompt in pixels of ``window``."""
        xy = np.array([window.left, window.top], dtype=np.float64)
        return WindowPrompt(
            None if self.points is None else self.points - xy,
            None if self.box is None else self.box - np.tile(xy, 2),
            None if self.boxes is None else self.boxes - np.tile(xy, 2),
        )


def predict_in_window(
    predict: Callable[..., InteractiveResult],
    image: ImageLike,
    tiles: object,
    *,
    model_size: int,
    mask_size: int,
    points: Any,
    point_labels: Any,
    box: Any,
    boxes: Any,
    **options: Any,
) -> WindowedInteractiveResult:
    """``predict`` (``Segmenter.predict`` without tiles) on the window around the prompt.

    Args:
        predict: answers a prompt on an image, in its pixels.
        image: the whole image (a path, PIL image, array or tensor).
        tiles: ``TileOptions`` or ``"auto"``: the window's side is the tile size.
        model_size, mask_size: the model's input side and low-resolution mask side.
        points, point_labels, box, boxes: the prompt in pixels of the whole image.
        **options: passed to ``predict`` as they are (``mask_input``, ``multimask``, ...).

    Raises:
        InputError: a bad prompt (checked against the whole image), or a click or box
            outside the window.
    """
    source = TileSource(image)
    size = resolve_tiles(tiles, source.size, model_size).size
    check_interactive_prompt(  # against the whole image: errors name the user's arguments
        points=points,
        point_labels=point_labels,
        box=box,
        boxes=boxes,
        mask_input=options.get("mask_input"),
        image_size=source.size,
        model_size=model_size,
        mask_size=mask_size,
    )
    prompt = window_prompt(points, box, boxes)
    window = prompt_window(prompt, source.size, size)
    inside = prompt.shifted(window)
    answer = predict(
        source.crop(window),
        points=inside.points,
        point_labels=point_labels,
        box=inside.box,
        boxes=inside.boxes,
        **options,
    )
    return WindowedInteractiveResult.from_window(answer, window, source.size)


def window_prompt(points: object, box: object, boxes: object) -> WindowPrompt:
    """A prompt already checked by ``check_interactive_prompt`` as float64 arrays."""
    return WindowPrompt(
        None if points is None else as_float_array(points, "points").reshape(-1, 2),
        None if box is None else as_float_array(box, "box").reshape(4),
        None if boxes is None else as_float_array(boxes, "boxes").reshape(-1, 4),
    )


def prompt_window(prompt: WindowPrompt, image_size: tuple[int, int], size: int) -> Rect:
    """The ``size`` square (cut to the image) around ``prompt``'s anchor, kept inside the
    image.

    Raises:
        InputError: a click or box lies outside it (the message names it).

    Example:
        >>> prompt = WindowPrompt(np.array([[950.0, 40.0]]), None, None)
        >>> prompt_window(prompt, (2000, 1000), 400)
        Rect(top=0, left=600, bottom=400, right=1000)
    """
    height, width = image_size
    centre_x, centre_y = prompt.anchor()
    side_y, side_x = min(size, height), min(size, width)
    top = int(np.clip(round(centre_y - side_y / 2), 0, height - side_y))
    left = int(np.clip(round(centre_x - side_x / 2), 0, width - side_x))
    window = Rect(top, left, top + side_y, left + side_x)
    where = f"the {side_x}x{side_y} px window at x {left}-{left + side_x}, y {top}-{top + side_y}"
    hint = "; click closer to the first click, or raise tiles.size"
    if prompt.points is not None:
        for index, (x, y) in enumerate(prompt.points.tolist()):
            if not window.contains_box(x, y, x, y):
                raise InputError(f"points[{index}]: ({x}, {y}) lies outside {where}{hint}")
    if prompt.box is not None and not window.contains_box(*prompt.box.tolist()):
        raise InputError(f"box: {prompt.box.tolist()} does not fit inside {where}{hint}")
    if prompt.boxes is not None:
        for index, one in enumerate(prompt.boxes.tolist()):
            if not window.contains_box(*one):
                raise InputError(f"boxes[{index}]: {one} does not fit inside {where}{hint}")
    return window


@dataclass(frozen=True, eq=False, repr=False)
class WindowedInteractiveResult(TiledSegmentationResult):
    """An interactive answer on a large image: the candidates' masks as crops of the image.

    Attributes:
        window: where the interactive head looked (its pixels were encoded).
        logits: (K, m, m) float32 low-resolution logits of the window: pass
            ``logits[best]`` back as ``mask_input`` with the same first click or box to
            refine (the window stays put).
        object_scores: (K,) float32, as in :class:`~sam3lib.interactive.InteractiveResult`.

    ``scores`` are predicted IoUs, as for :class:`~sam3lib.interactive.InteractiveResult`.
    """

    window: Rect = field(default_factory=lambda: Rect(0, 0, 0, 0))
    logits: npt.NDArray[np.float32] = field(
        default_factory=lambda: np.zeros((0, 1, 1), dtype=np.float32)
    )
    object_scores: npt.NDArray[np.float32] = field(
        default_factory=lambda: np.zeros(0, dtype=np.float32)
    )

    @property
    def best(self) -> int:
        """Index of the candidate with the highest predicted IoU (0 when there is one)."""
        return int(np.argmax(self.scores)) if len(self.scores) else 0

    @property
    def label(self) -> str:
        return OBJECT_LABEL

    def __repr__(self) -> str:
        return (
            f"WindowedInteractiveResult(masks={len(self)}, best={self.best}, "
            f"window={self.window}, image_size={self.image_size})"
        )

    @classmethod
    def from_window(
        cls, result: InteractiveResult, window: Rect, image_size: tuple[int, int]
    ) -> WindowedInteractiveResult:
        """``result`` (computed on ``window``'s pixels) placed in the whole image."""
        crops = []
        for mask in result.masks:
            crop = CroppedMask.from_mask(mask, window.top, window.left)
            # An empty candidate keeps its place (logits and scores are per candidate).
            empty = CroppedMask(window.top, window.left, np.zeros((1, 1), dtype=np.bool_))
            crops.append(crop or empty)
        offset = np.array([window.left, window.top] * 2, dtype=np.float32)
        return cls(
            crops=tuple(crops),
            boxes=result.boxes + offset,
            scores=result.scores,
            prompt=None,
            image_size=image_size,
            tiles=1,
            timings=result.timings,
            window=window,
            logits=result.logits,
            object_scores=result.object_scores,
        )


def _centre(boxes: npt.NDArray[np.float64]) -> tuple[float, float]:
    return (
        float((boxes[:, 0].min() + boxes[:, 2].max()) / 2),
        float((boxes[:, 1].min() + boxes[:, 3].max()) / 2),
    )
