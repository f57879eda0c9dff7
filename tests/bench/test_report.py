"""Medians, ratios, the extra-prompt price, and the text, JSON and Markdown renderings."""

from __future__ import annotations

import json

import pytest

from sam3lib.bench.report import (
    extra_prompt_seconds,
    format_markdown,
    format_table,
    median_seconds,
    ratios,
    variant_report,
)
from sam3lib.bench.runners import STAGES, Measurement


def measurement(scale: float, kept: int = 3) -> Measurement:
    seconds = {stage: scale * (i + 1) for i, stage in enumerate(STAGES)}
    return Measurement({**seconds, "total": sum(seconds.values())}, kept)


def test_median_is_taken_per_stage() -> None:
    runs = [measurement(1.0), measurement(3.0), measurement(2.0)]
    assert median_seconds(runs)["decode"] == 2.0 * (STAGES.index("decode") + 1)
    with pytest.raises(ValueError):
        median_seconds([])


def test_ratio_is_ours_over_theirs_and_none_without_a_denominator() -> None:
    assert ratios({"a": 1.0, "b": 2.0, "c": 1.0}, {"a": 4.0, "b": 0.0}) == {"a": 0.25, "b": None}


def test_extra_prompt_is_the_difference_spread_over_the_added_prompts() -> None:
    one, ten = {"total": 2.0, "encode_image": 1.0}, {"total": 11.5, "encode_image": 1.5}
    assert extra_prompt_seconds(one, ten, 10) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        extra_prompt_seconds(one, one, 1)


@pytest.fixture
def report() -> dict[str, object]:
    cases = {
        "1x1": {"sam3lib": [measurement(1.0)], "transformers": [measurement(2.0)]},
        "1x3": {"sam3lib": [measurement(2.0)], "transformers": [measurement(5.0)]},
    }
    variant = variant_report(
        backend="eager",
        precision="fp32",
        device="cpu",
        gemm_gflops=100.0,
        encoder_flops={"sam3lib": 10**11, "transformers": 6 * 10**10},
        cases=cases,
        case_names={"1x1": "1 image, 1 prompt", "1x3": "1 image, 3 prompts"},
        isolated={
            "sam3lib": {
                "import_s": 1.0,
                "load_s": 2.0,
                "first_result_s": 3.0,
                "peak_rss_bytes": 2**31,
            }
        },
    )
    return {
        "command": "sam3lib bench --size tiny",
        "machine": {
            "cpu": "Test CPU",
            "cores": 2,
            "memory_gib": 8.0,
            "accelerator": "no GPU",
            "torch": "2.x",
            "transformers": None,
        },
        "model": "tiny size, random weights",
        "resolution": 168,
        "variants": [variant],
    }


def test_variant_report_derives_ratios_roofline_and_extra_prompt(report: dict) -> None:
    variant = report["variants"][0]
    one = variant["cases"]["1x1"]
    assert one["ratio"]["total"] == pytest.approx(0.5)
    encode = STAGES.index("encode_image") + 1  # the measurement's encode_image seconds
    assert one["sam3lib"]["encoder_gflops"] == pytest.approx(100 / encode)
    assert one["sam3lib"]["roofline_fraction"] == pytest.approx(1 / encode)
    # Each implementation's own encode_image work (transformers' lacks the detector's share).
    assert one["transformers"]["encoder_gflops"] == pytest.approx(60 / (2 * encode))
    total_1 = sum(range(1, len(STAGES) + 1))
    assert variant["extra_prompt_s"]["sam3lib"] == pytest.approx((total_1 - encode) / 2)
    json.dumps(report)  # JSON-ready


def test_table_and_markdown_show_every_stage_ratio_and_summary(report: dict) -> None:
    table = format_table(report)
    for stage in (*STAGES, "total"):
        assert stage in table
    assert "sam3lib/transformers" in table and "0.50" in table
    assert "0.50 of the GEMM rate" in table and "peak RSS 2.00 GiB" in table
    assert "at 168 px — measured GEMM rate" in table  # the input size the model ran at
    markdown = format_markdown(report)
    assert "Model: tiny size, random weights, input 168 × 168 px." in markdown
    assert "`sam3lib bench --size tiny`" in markdown and "Test CPU, 2 cores" in markdown
    assert "| 1 image, 1 prompt | preprocess |" in markdown
