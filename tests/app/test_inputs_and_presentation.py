"""The demo's pure parts: typed inputs, legend, instance details and picking, timings."""

from __future__ import annotations

import numpy as np
import pytest

from sam3lib import InputError, SegmentationResult
from sam3lib.app.inputs import box_from_corners, parse_boxes, parse_prompts
from sam3lib.app.presentation import (
    instance_at,
    instance_details,
    legend_html,
    list_instances,
    stage_seconds,
    timings_markdown,
)
from sam3lib.app.samples import sample_image, sample_names
from sam3lib.visualize import instance_colors


def _result(prompt: str | None, boxes: list[list[int]], scores: list[float]) -> SegmentationResult:
    masks = np.zeros((len(boxes), 20, 30), dtype=bool)
    for mask, (x0, y0, x1, y1) in zip(masks, boxes, strict=True):
        mask[y0:y1, x0:x1] = True
    return SegmentationResult(
        masks=masks,
        boxes=np.array(boxes, dtype=np.float32).reshape(-1, 4),
        scores=np.array(scores, dtype=np.float32),
        prompt=prompt,
        image_size=(20, 30),
        timings={"encode_image": 0.5, "decode": 0.25, "postprocess": 0.125},
    )


@pytest.mark.parametrize(
    ("text", "prompts"),
    [
        ("red car", ["red car"]),
        (" red car , bicycle,", ["red car", "bicycle"]),
        (",, ,", []),
        ("", []),
    ],
)
def test_prompts_are_split_on_commas(text: str, prompts: list[str]) -> None:
    assert parse_prompts(text) == prompts


def test_boxes_are_four_numbers_each() -> None:
    assert parse_boxes("") == []
    assert parse_boxes("1,2,3,4") == [[1.0, 2.0, 3.0, 4.0]]
    assert parse_boxes("1,2,3,4;\n 5.5, 6, 7, 8 ;") == [[1, 2, 3, 4], [5.5, 6, 7, 8]]
    with pytest.raises(InputError, match=r"box 2: expected x0,y0,x1,y1 .* got ' 1,2,3'"):
        parse_boxes("1,2,3,4; 1,2,3")
    with pytest.raises(InputError, match="box 1"):
        parse_boxes("a,b,c,d")


def test_two_clicked_corners_make_a_box() -> None:
    assert box_from_corners((30, 5), (10, 25.5)) == "10,5,30,25.5"
    assert parse_boxes(box_from_corners((30, 5), (10, 25))) == [[10, 5, 30, 25]]


def test_instances_are_numbered_and_coloured_as_drawn() -> None:
    results = [_result("cat", [[0, 0, 10, 10], [5, 5, 20, 15]], [0.9, 0.6]), _result(None, [], [])]
    results.append(_result("dog", [[2, 3, 8, 9]], [0.75]))
    instances = list_instances(results)
    assert [i.title for i in instances] == ["#1 cat 0.90", "#2 cat 0.60", "#3 dog 0.75"]
    assert [i.color for i in instances] == instance_colors(3)
    assert [i.area for i in instances] == [100, 150, 36]
    assert instances[1].box == (5.0, 5.0, 20.0, 15.0)
    legend = legend_html(instances)
    assert legend.count('class="legend-item"') == 3
    assert "#3 dog 0.75" in legend and f"rgb{instance_colors(3)[2]}" in legend
    assert "No instance" in legend_html([])
    assert legend_html(list_instances([_result("<b>", [[0, 0, 2, 2]], [0.5])])).count("&lt;b&gt;")


def test_instance_details_give_label_score_area_and_box() -> None:
    (instance,) = list_instances([_result("cat", [[5, 5, 20, 15]], [0.875])])
    details = instance_details(instance)
    for part in ("#1 cat", "score 0.875", "area 150 px", "(5.0, 5.0, 20.0, 15.0)"):
        assert part in details


def test_the_instance_on_top_is_picked() -> None:
    results = [_result("cat", [[0, 0, 10, 10], [5, 5, 20, 15]], [0.9, 0.6])]
    results.append(_result("dog", [[7, 7, 9, 9]], [0.5]))
    assert instance_at(results, 2, 2) == 1
    assert instance_at(results, 6, 6) == 2  # drawn over #1
    assert instance_at(results, 8, 8) == 3
    assert instance_at(results, 25, 18) is None
    assert instance_at(results, 99, 99) is None


def test_timings_sum_postprocessing_over_prompts() -> None:
    results = [_result("cat", [], []), _result("dog", [], [])]
    seconds = stage_seconds(results)
    assert seconds == {"encode_image": 0.5, "decode": 0.25, "postprocess": 0.25}
    table = timings_markdown(seconds, 1.5, "fp32 · eager · cpu")
    assert "| encode image | 500.0 ms |" in table
    assert "| post-process | 250.0 ms |" in table
    assert "**1500.0 ms**" in table and "fp32 · eager · cpu" in table


def test_samples_are_distinct_rgb_pictures() -> None:
    pictures = [sample_image(name) for name in sample_names()]
    assert len(pictures) >= 3
    for picture in pictures:
        assert picture.dtype == np.uint8 and picture.shape == (320, 480, 3)
        assert len(np.unique(picture.reshape(-1, 3), axis=0)) > 4
    assert not np.array_equal(pictures[0], pictures[1])
