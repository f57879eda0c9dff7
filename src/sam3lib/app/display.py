"""One demo request, from what the user entered to what the page shows.

No gradio here: :mod:`sam3lib.app.ui` only moves these values in and out of components, so
everything the page shows is computed, and tested, without a browser.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from sam3lib.app.downloads import write_downloads
from sam3lib.app.inputs import parse_boxes, parse_prompts
from sam3lib.app.models import model_title
from sam3lib.app.presentation import (
    Instance,
    legend_html,
    list_instances,
    queries_html,
    stage_seconds,
    timings_markdown,
)
from sam3lib.errors import InputError
from sam3lib.result import SegmentationResult
from sam3lib.segmenter import Segmenter
from sam3lib.visualize import draw_overlay


@dataclass(frozen=True)
class Display:
    """Everything the page shows for one request.

    Attributes:
        results: one per prompt (or one for boxes only).
        overlay: the annotated image.
        instances: the legend's rows.
        legend: the legend as HTML, after the English queries of translated prompts.
        timings: per-stage milliseconds as a Markdown table.
        downloads: ``masks.png`` and ``masks_coco_rle.json``.
    """

    results: list[SegmentationResult]
    overlay: Image.Image
    instances: list[Instance]
    legend: str
    timings: str
    downloads: list[Path]


def segment_for_display(
    segmenter: Segmenter,
    image: Any,
    prompts_text: str,
    boxes_text: str,
    *,
    threshold: float,
    refine: int,
    directory: Path,
) -> Display:
    """Segment ``image`` with the typed prompts and boxes; draw, list and export the answer.

    Args:
        segmenter: the model to use.
        image: the picture (numpy array or PIL image), as the page hands it over.
        prompts_text: comma-separated prompts (``"red car, bicycle"``, ``"红色的汽车，狗"``);
            may be blank when boxes are given. Prompts not in English go through the
            segmenter's translator.
        boxes_text: exemplar boxes ``x0,y0,x1,y1``, separated by ``;``.
        threshold: detection threshold.
        refine: mask refinement level, 0 (off) to 5.
        directory: where the downloads are written.

    Raises:
        InputError: nothing to look for, or an input the segmenter refuses.

    Example:
        >>> shown = segment_for_display(seg, picture, "red car", "", threshold=0.5, refine=0,
        ...                             directory=Path("out"))  # doctest: +SKIP
        >>> shown.instances[0].title  # doctest: +SKIP
        '#1 red car 0.91'
    """
    prompts = parse_prompts(prompts_text)
    boxes = parse_boxes(boxes_text)
    if not prompts and not boxes:
        raise InputError("type a prompt (e.g. 'red car'), or give an exemplar box")
    started = time.perf_counter()
    answer = segmenter.segment(
        image, prompts or None, boxes=boxes or None, threshold=threshold, refine=refine or None
    )
    results = answer if isinstance(answer, list) else [answer]
    total_s = time.perf_counter() - started
    instances = list_instances(results)
    return Display(
        results=results,
        overlay=draw_overlay(image, results),
        instances=instances,
        legend=queries_html(results) + legend_html(instances),
        timings=timings_markdown(stage_seconds(results), total_s, model_title(segmenter)),
        downloads=write_downloads(results, directory),
    )
