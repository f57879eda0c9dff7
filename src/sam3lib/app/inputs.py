"""What users type in the demo, parsed: comma-separated prompts and ``x0,y0,x1,y1`` boxes."""

from __future__ import annotations

import re

from sam3lib.errors import InputError

# The ASCII comma, and the full-width comma and enumeration comma of Chinese text.
_PROMPT_SEPARATORS = re.compile("[,，、]")


def parse_prompts(text: str) -> list[str]:
    """Comma-separated prompts (``,``, ``，`` or ``、``), trimmed, blanks dropped.

    Example:
        >>> parse_prompts(" red car, bicycle ,, ")
        ['red car', 'bicycle']
        >>> parse_prompts("红色的汽车，狗、cat")
        ['红色的汽车', '狗', 'cat']
    """
    return [prompt.strip() for prompt in _PROMPT_SEPARATORS.split(text) if prompt.strip()]


def parse_boxes(text: str) -> list[list[float]]:
    """Boxes ``x0,y0,x1,y1`` in pixels, separated by ``;`` or new lines.

    Raises:
        InputError: a box is not four numbers (the message quotes it).

    Example:
        >>> parse_boxes("10, 20, 110, 140; 5,5,9,9")
        [[10.0, 20.0, 110.0, 140.0], [5.0, 5.0, 9.0, 9.0]]
    """
    boxes = []
    for number, part in enumerate(text.replace("\n", ";").split(";"), start=1):
        if not part.strip():
            continue
        try:
            values = [float(value) for value in part.split(",")]
        except ValueError:
            values = []
        if len(values) != 4:
            raise InputError(f"box {number}: expected x0,y0,x1,y1 (four numbers), got {part!r}")
        boxes.append(values)
    return boxes


def box_from_corners(first: tuple[float, float], second: tuple[float, float]) -> str:
    """The box spanned by two clicked corners (in any order), as typed: ``"x0,y0,x1,y1"``.

    Example:
        >>> box_from_corners((120, 40), (20, 90))
        '20,40,120,90'
    """
    x0, x1 = sorted((first[0], second[0]))
    y0, y1 = sorted((first[1], second[1]))
    return ",".join(f"{value:g}" for value in (x0, y0, x1, y1))
