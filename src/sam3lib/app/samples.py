"""Sample pictures for the demo, drawn at run time: nothing to download, nothing bundled."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

_SIZE = (480, 320)  # width, height: small, so a CPU answers in a blink


def sample_names() -> list[str]:
    """The samples' names, as listed in the demo.

    Example:
        >>> sample_names()
        ['toy street', 'shapes', 'fruit bowl']
    """
    return list(_SAMPLES)


def sample_image(name: str) -> npt.NDArray[np.uint8]:
    """The sample called ``name``: (H, W, 3) uint8 RGB.

    Raises:
        KeyError: no such sample.

    Example:
        >>> sample_image("shapes").shape
        (320, 480, 3)
    """
    picture = Image.new("RGB", _SIZE, (200, 205, 210))
    _SAMPLES[name](ImageDraw.Draw(picture))
    return np.asarray(picture).copy()


def _toy_street(draw: ImageDraw.ImageDraw) -> None:
    draw.rectangle((0, 0, 480, 120), fill=(150, 200, 240))  # sky
    draw.rectangle((0, 200, 480, 320), fill=(90, 90, 95))  # road
    for x in range(10, 480, 70):
        draw.rectangle((x, 255, x + 35, 262), fill=(240, 240, 240))
    for left, color in ((30, (200, 30, 30)), (190, (30, 80, 200)), (340, (210, 40, 40))):
        draw.rounded_rectangle((left, 170, left + 110, 225), 12, fill=color)
        draw.rectangle((left + 20, 150, left + 85, 175), fill=color)
        for wheel in (left + 22, left + 88):
            draw.ellipse((wheel - 13, 213, wheel + 13, 239), fill=(25, 25, 25))


def _shapes(draw: ImageDraw.ImageDraw) -> None:
    draw.ellipse((40, 50, 150, 160), fill=(220, 40, 40))
    draw.ellipse((300, 190, 380, 270), fill=(230, 60, 50))
    draw.rectangle((200, 40, 300, 140), fill=(40, 90, 220))
    draw.rectangle((60, 200, 140, 280), fill=(50, 100, 230))
    draw.polygon([(400, 40), (460, 150), (340, 150)], fill=(40, 170, 70))


def _fruit_bowl(draw: ImageDraw.ImageDraw) -> None:
    draw.rectangle((0, 230, 480, 320), fill=(150, 110, 70))  # table
    draw.chord((110, 120, 370, 300), 0, 180, fill=(235, 235, 225))  # bowl
    fruits = [(160, 160, (230, 120, 20)), (225, 150, (200, 20, 30)), (290, 165, (240, 200, 30))]
    for x, y, color in fruits:
        draw.ellipse((x - 32, y - 32, x + 32, y + 32), fill=color)
    draw.ellipse((395, 190, 455, 250), fill=(110, 180, 40))


_SAMPLES: dict[str, Callable[[ImageDraw.ImageDraw], None]] = {
    "toy street": _toy_street,
    "shapes": _shapes,
    "fruit bowl": _fruit_bowl,
}
