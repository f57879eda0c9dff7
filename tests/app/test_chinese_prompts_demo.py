"""The demo with Chinese prompts: split on Chinese commas, translated, the English shown."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import numpy.typing as npt

from conftest import THRESHOLD
from helpers.extras import needs_zh
from sam3lib import Segmenter
from sam3lib.app.display import segment_for_display
from sam3lib.app.inputs import parse_prompts
from sam3lib.app.presentation import queries_html
from sam3lib.result import SegmentationResult


def test_prompts_split_on_ascii_and_chinese_commas() -> None:
    assert parse_prompts("红色的汽车，狗、 cat ,, 桌子上的杯子") == [
        "红色的汽车",
        "狗",
        "cat",
        "桌子上的杯子",
    ]


def test_only_translated_prompts_are_listed_with_their_query() -> None:
    results = [
        SegmentationResult.empty("狗", (4, 6), query="dog"),
        SegmentationResult.empty("cat", (4, 6), query="cat"),
        SegmentationResult.empty("<b>猫</b>", (4, 6), query="cat"),
        SegmentationResult.empty(None, (4, 6)),
    ]
    shown = queries_html(results)
    assert (
        shown
        == '<p class="legend-queries">The model read: 狗 → dog; &lt;b&gt;猫&lt;/b&gt; → cat</p>'
    )
    assert queries_html(results[1:2]) == ""


@needs_zh
def test_a_chinese_request_shows_the_english_the_model_read(
    segmenter: Segmenter, street: npt.NDArray[np.uint8], tmp_path: Path
) -> None:
    shown = segment_for_display(
        segmenter, street, "红色的汽车，狗", "", threshold=THRESHOLD, refine=0, directory=tmp_path
    )

    assert [(r.prompt, r.query) for r in shown.results] == [
        ("红色的汽车", "red car"),
        ("狗", "dog"),
    ]
    assert "红色的汽车 → red car; 狗 → dog" in shown.legend
    assert {instance.label for instance in shown.instances} <= {"红色的汽车", "狗"}
    assert "translate prompts" in shown.timings
    report = json.loads(shown.downloads[1].read_text(encoding="utf-8"))
    assert [(r["prompt"], r["query"]) for r in report["results"]] == [
        ("红色的汽车", "red car"),
        ("狗", "dog"),
    ]
