"""The demo's click mode: clicks and a box on the picture in, one object's mask out.

No gradio here (:mod:`sam3lib.app.ui` only moves values in and out of components). The
picture is encoded once, when it is uploaded (:func:`encode_picture`); each click then runs
only the interactive head's decoder on that :class:`~sam3lib.ImageEmbedding`, with the clicks
so far and the previous answer's logits (``mask_input``), as Meta's predictor is meant to be
used.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

from sam3lib.app.downloads import write_downloads
from sam3lib.app.inputs import box_from_corners, parse_boxes
from sam3lib.app.models import model_title
from sam3lib.app.presentation import timings_markdown
from sam3lib.embedding import ImageEmbedding
from sam3lib.interactive.result import InteractiveResult
from sam3lib.segmenter import Segmenter
from sam3lib.visualize import draw_overlay

__all__ = [
    "BACKGROUND",
    "BOX",
    "CLICK_MODES",
    "OBJECT",
    "ClickDisplay",
    "ClickPrompt",
    "click_details",
    "click_for_display",
    "draw_clicks",
    "encode_picture",
]

OBJECT, BACKGROUND, BOX = "object (+)", "background (−)", "box: two corners"
CLICK_MODES = (OBJECT, BACKGROUND, BOX)

_POSITIVE_COLOR, _NEGATIVE_COLOR, _BOX_COLOR = (40, 210, 70), (235, 50, 50), (255, 215, 0)


@dataclass(frozen=True)
class ClickPrompt:
    """The clicks on one picture so far.

    Attributes:
        points: (x, y) clicks in pixels of the picture.
        labels: 1 (on the object) or 0 (background) per click.
        box: (x0, y0, x1, y1) around the object, once both corners are clicked.
        corner: the first corner of a box being drawn.
        logits: the last answer's low-resolution logits, refined by the next click.
    """

    points: tuple[tuple[float, float], ...] = ()
    labels: tuple[int, ...] = ()
    box: tuple[float, float, float, float] | None = None
    corner: tuple[float, float] | None = None
    logits: npt.NDArray[np.float32] | None = None

    @property
    def ready(self) -> bool:
        """Whether there is anything to segment (a pending corner alone is not)."""
        return bool(self.points) or self.box is not None

    def with_click(self, x: float, y: float, mode: str) -> ClickPrompt:
        """This prompt plus a click at (x, y): a point, or a box corner, as ``mode`` says.

        Example:
            >>> ClickPrompt().with_click(10, 20, OBJECT).points
            ((10, 20),)
            >>> ClickPrompt().with_click(10, 20, BOX).with_click(40, 5, BOX).box
            (10.0, 5.0, 40.0, 20.0)
        """
        if mode == BOX:
            if self.corner is None:
                return replace(self, corner=(x, y))
            (box,) = parse_boxes(box_from_corners(self.corner, (x, y)))
            # A new box is a new object outline: the old mask would only mislead it.
            return replace(self, box=(box[0], box[1], box[2], box[3]), corner=None, logits=None)
        label = 0 if mode == BACKGROUND else 1
        return replace(self, points=(*self.points, (x, y)), labels=(*self.labels, label))

    def without_last(self) -> ClickPrompt:
        """This prompt without its last click (the last point, else the box or its corner).

        Example:
            >>> ClickPrompt().with_click(1, 2, OBJECT).without_last().ready
            False
        """
        if self.corner is not None:
            return replace(self, corner=None)
        if self.points:
            return replace(self, points=self.points[:-1], labels=self.labels[:-1], logits=None)
        return replace(self, box=None, logits=None)


@dataclass(frozen=True)
class ClickDisplay:
    """Everything the page shows after a click.

    Attributes:
        prompt: the clicks, with the answer's logits to refine with next time.
        picture: the picture with the mask (if any) and the clicks drawn on it.
        result: the chosen mask, or None while a box has one corner only.
        details: score, area and box, as Markdown.
        timings: milliseconds of this click's stages, as a Markdown table.
        downloads: ``masks.png`` and ``masks_coco_rle.json``.
    """

    prompt: ClickPrompt
    picture: Image.Image
    result: InteractiveResult | None
    details: str
    timings: str
    downloads: list[Path]


def encode_picture(segmenter: Segmenter, picture: Any) -> ImageEmbedding:
    """Encode ``picture`` for clicking: the image encoder and the interactive head's own
    features, both once, so that each click afterwards costs only the decoder.

    Raises:
        InputError: the picture is not an image.
        InteractiveUnavailableError: the checkpoint has no interactive head.
    """
    segmenter.interactive.tracker  # noqa: B018  # no head: say so before encoding
    embedding = segmenter.encode_image(picture)
    embedding.interactive_features(embedding.timings)
    return embedding


def click_for_display(
    segmenter: Segmenter,
    embedding: ImageEmbedding,
    picture: Any,
    prompt: ClickPrompt,
    *,
    directory: Path,
) -> ClickDisplay:
    """Segment the object ``prompt`` points at on the encoded ``picture``; draw it.

    One click alone asks for three candidates and keeps the best (it is ambiguous); a box
    or several clicks ask for one mask, as Meta advises. The previous answer's logits are
    passed as ``mask_input``.

    Raises:
        InputError: a click outside the picture.

    Example:
        >>> shown = click_for_display(seg, emb, picture, ClickPrompt().with_click(80, 60, OBJECT),
        ...                           directory=Path("out"))  # doctest: +SKIP
        >>> shown.result.scores  # doctest: +SKIP
        array([0.93], dtype=float32)
    """
    if not prompt.ready:
        return ClickDisplay(prompt, draw_clicks(picture, None, prompt), None, "", "", [])
    single_click = len(prompt.points) == 1 and prompt.box is None
    started = time.perf_counter()
    answer = segmenter.predict(
        embedding,
        points=list(prompt.points) or None,
        point_labels=list(prompt.labels) or None,
        box=prompt.box,
        mask_input=prompt.logits,
        multimask=single_click,
    )
    total_s = time.perf_counter() - started
    result = answer.best_only()
    stages = {stage: result.timings[stage] for stage in ("decode_interactive", "postprocess")}
    return ClickDisplay(
        prompt=replace(prompt, logits=result.logits[0]),
        picture=draw_clicks(picture, result, prompt),
        result=result,
        details=click_details(result, len(answer), prompt),
        timings=timings_markdown(stages, total_s, model_title(segmenter))
        + f"\n\nImage encoded once, on upload: {1000 * _encode_seconds(embedding):.1f} ms",
        downloads=write_downloads([result], directory),
    )


def draw_clicks(picture: Any, result: InteractiveResult | None, prompt: ClickPrompt) -> Image.Image:
    """The picture with the mask of ``result`` (if any), the box and the clicks on top:
    green dots on the object, red dots on the background, the box in yellow.

    Example:
        >>> picture = np.zeros((40, 60, 3), dtype=np.uint8)
        >>> drawn = draw_clicks(picture, None, ClickPrompt().with_click(10, 20, OBJECT))
        >>> drawn.getpixel((10, 20))
        (40, 210, 70)
    """
    drawn = draw_overlay(picture, [] if result is None else [result], show_labels=False)
    draw = ImageDraw.Draw(drawn)
    radius = max(3, round(min(drawn.size) / 80))
    if prompt.box is not None:
        draw.rectangle(prompt.box, outline=_BOX_COLOR, width=max(2, radius // 2))
    if prompt.corner is not None:
        x, y = prompt.corner
        draw.line((x - 2 * radius, y, x + 2 * radius, y), fill=_BOX_COLOR, width=2)
        draw.line((x, y - 2 * radius, x, y + 2 * radius), fill=_BOX_COLOR, width=2)
    for (x, y), label in zip(prompt.points, prompt.labels, strict=True):
        color = _POSITIVE_COLOR if label == 1 else _NEGATIVE_COLOR
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=color, outline="white")
    return drawn


def click_details(result: InteractiveResult, candidates: int, prompt: ClickPrompt) -> str:
    """The chosen mask's predicted IoU, area and box, and what was clicked, as Markdown.

    Example:
        >>> click_details(result, 3, prompt)  # doctest: +SKIP
        '**object** — predicted IoU 0.931 (best of 3 candidates), area 3625 px, ...'
    """
    score, area = float(result.scores[0]), int(result.areas[0])
    box = ", ".join(f"{value:.1f}" for value in result.boxes[0])
    chosen = f" (best of {candidates} candidates)" if candidates > 1 else ""
    positive = sum(prompt.labels)
    clicks = f"{positive} on the object, {len(prompt.labels) - positive} on the background"
    boxed = "" if prompt.box is None else " and a box"
    return (
        f"**object** — predicted IoU {score:.3f}{chosen}, area {area} px, "
        f"box (x0, y0, x1, y1) = ({box})\n\nFrom {clicks}{boxed}."
    )


def _encode_seconds(embedding: ImageEmbedding) -> float:
    stages = ("preprocess", "encode_image", "encode_interactive")
    return sum(embedding.timings.get(stage, 0.0) for stage in stages)
