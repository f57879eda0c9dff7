"""What the demo shows about results: a legend, one instance's details, per-stage timings.

Instances are numbered across results in order, as :func:`sam3lib.visualize.draw_overlay`
draws them, and get its colours, so the legend matches the picture.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from sam3lib.result import SegmentationResult
from sam3lib.visualize import instance_colors

# Stages of SegmentationResult.timings, in the order they run, with the names users see.
STAGES = {
    "translate": "translate prompts",
    "preprocess": "preprocess",
    "encode_image": "encode image",
    "encode_interactive": "encode (interactive head)",
    "encode_text": "encode text",
    "decode": "decode",
    "decode_interactive": "decode clicks",
    "postprocess": "post-process",
}


@dataclass(frozen=True)
class Instance:
    """One found instance, as listed in the legend.

    Attributes:
        number: 1-based, across all prompts, in drawing order.
        label, score, area: as in the result; area in pixels.
        box: (x0, y0, x1, y1) in pixels.
        color: its (r, g, b) in the overlay.
    """

    number: int
    label: str
    score: float
    area: int
    box: tuple[float, float, float, float]
    color: tuple[int, int, int]

    @property
    def title(self) -> str:
        """``"#1 red car 0.87"``: how the instance is named in lists."""
        return f"#{self.number} {self.label} {self.score:.2f}"


def list_instances(results: Sequence[SegmentationResult]) -> list[Instance]:
    """Every instance of ``results``, numbered and coloured as in the overlay.

    Example:
        >>> list_instances([SegmentationResult.empty("cat", (4, 6))])
        []
    """
    rows = [
        (result.label, float(score), int(area), box)
        for result in results
        for score, area, box in zip(result.scores, result.areas, result.boxes, strict=True)
    ]
    colors = instance_colors(len(rows))
    return [
        Instance(number, label, score, area, _box(box), color)
        for number, ((label, score, area, box), color) in enumerate(
            zip(rows, colors, strict=True), start=1
        )
    ]


def legend_html(instances: Sequence[Instance]) -> str:
    """The legend: a colour swatch and ``label score`` per instance.

    Example:
        >>> legend_html([])
        '<p class="legend-empty">No instance above the threshold.</p>'
    """
    if not instances:
        return '<p class="legend-empty">No instance above the threshold.</p>'
    items = "".join(
        f'<li class="legend-item" style="display:inline-block;margin:2px 12px 2px 0">'
        f'<span style="display:inline-block;width:0.9em;height:0.9em;margin-right:0.4em;'
        f'vertical-align:middle;background:rgb{instance.color}"></span>'
        f"#{instance.number} {html.escape(instance.label)} {instance.score:.2f}</li>"
        for instance in instances
    )
    return f'<ul class="legend" style="padding:0;margin:0">{items}</ul>'


def queries_html(results: Sequence[SegmentationResult]) -> str:
    """The English queries of translated prompts (``红色的汽车 → red car``); empty when every
    prompt was read as typed.

    Example:
        >>> queries_html([SegmentationResult.empty("狗", (4, 6), query="dog")])
        '<p class="legend-queries">The model read: 狗 → dog</p>'
    """
    translated = [
        f"{html.escape(result.label)} → {html.escape(result.query)}"
        for result in results
        if result.query is not None and result.query != result.prompt
    ]
    if not translated:
        return ""
    return f'<p class="legend-queries">The model read: {"; ".join(translated)}</p>'


def instance_details(instance: Instance) -> str:
    """One instance's label, score, area and box, as Markdown.

    Example:
        >>> print(instance_details(Instance(2, "cat", 0.875, 120, (1, 2, 13, 12), (0, 0, 0))))
        **#2 cat** — score 0.875, area 120 px, box (x0, y0, x1, y1) = (1.0, 2.0, 13.0, 12.0)
    """
    box = ", ".join(f"{value:.1f}" for value in instance.box)
    return (
        f"**#{instance.number} {instance.label}** — score {instance.score:.3f}, "
        f"area {instance.area} px, box (x0, y0, x1, y1) = ({box})"
    )


def instance_at(results: Sequence[SegmentationResult], x: int, y: int) -> int | None:
    """The number of the instance drawn on top at pixel (x, y), or ``None`` for background.

    Example:
        >>> instance_at([SegmentationResult.empty("cat", (4, 6))], 2, 1) is None
        True
    """
    found = None
    number = 0
    for result in results:
        height, width = result.image_size
        for mask in result.masks:
            number += 1
            if 0 <= y < height and 0 <= x < width and mask[y, x]:
                found = number  # later instances are drawn over earlier ones
    return found


def stage_seconds(results: Sequence[SegmentationResult]) -> dict[str, float]:
    """Seconds per stage for one request: shared stages once, post-processing summed.

    All results of one ``segment`` call share the image and text encodings and the batched
    decode; each has its own post-processing.

    Example:
        >>> stage_seconds([])
        {}
    """
    if not results:
        return {}
    seconds = {stage: results[0].timings[stage] for stage in STAGES if stage in results[0].timings}
    seconds["postprocess"] = sum(result.timings.get("postprocess", 0.0) for result in results)
    return seconds


def timings_markdown(seconds: dict[str, float], total_s: float, model: str) -> str:
    """Milliseconds per stage as a Markdown table, with the total and the model used.

    Example:
        >>> print(timings_markdown({"decode": 0.0125}, 0.02, "fp32 · eager"))
        | fp32 · eager | time |
        | --- | ---: |
        | decode | 12.5 ms |
        | **total** | **20.0 ms** |
    """
    rows = [
        f"| {name} | {1000 * seconds[stage]:.1f} ms |"
        for stage, name in STAGES.items()
        if stage in seconds
    ]
    return "\n".join(
        [
            f"| {model} | time |",
            "| --- | ---: |",
            *rows,
            f"| **total** | **{1000 * total_s:.1f} ms** |",
        ]
    )


def _box(box: Sequence[float]) -> tuple[float, float, float, float]:
    return (float(box[0]), float(box[1]), float(box[2]), float(box[3]))
