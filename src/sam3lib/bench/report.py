"""From timed runs to numbers: medians, ours/theirs ratios, the table, the JSON, Markdown.

A report is a plain JSON-ready dictionary (see :func:`variant_report`); the text table and the
Markdown page are two renderings of it.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from sam3lib.bench.runners import STAGES, Measurement

ROWS = (*STAGES, "total")
GIB = 2**30


def median_seconds(runs: Sequence[Measurement]) -> dict[str, float]:
    """Median seconds of each stage over ``runs`` (each stage's own median).

    Example:
        >>> runs = [Measurement({"decode": s, "total": s}, 1) for s in (3.0, 1.0, 2.0)]
        >>> median_seconds(runs)
        {'decode': 2.0, 'total': 2.0}
    """
    if not runs:
        raise ValueError("no runs to take the median of")
    return {stage: statistics.median(r.seconds[stage] for r in runs) for stage in runs[0].seconds}


def ratios(ours: Mapping[str, float], theirs: Mapping[str, float]) -> dict[str, float | None]:
    """ours / theirs per stage; None where theirs is zero or a stage is missing on one side.

    Example:
        >>> ratios({"decode": 1.0, "total": 3.0}, {"decode": 2.0, "total": 0.0})
        {'decode': 0.5, 'total': None}
    """
    return {
        stage: ours[stage] / theirs[stage] if theirs.get(stage) else None
        for stage in ours
        if stage in theirs
    }


def extra_prompt_seconds(
    one: Mapping[str, float], many: Mapping[str, float], prompts: int
) -> float:
    """What each prompt beyond the first costs on an encoded image.

    The growth of the total from 1 to ``prompts`` prompts, spread over the added prompts, with
    image encoding left out of both totals: both cases encode the image once, so the encoder's
    run-to-run noise (≈ 1 s on a 22 s encode) is all it would add.

    Example:
        >>> one = {"total": 10.0, "encode_image": 8.0}
        >>> extra_prompt_seconds(one, {"total": 19.5, "encode_image": 8.5}, 10)
        1.0
    """
    if prompts < 2:
        raise ValueError("need at least two prompts to price an extra one")
    grown = (many["total"] - many["encode_image"]) - (one["total"] - one["encode_image"])
    return grown / (prompts - 1)


def variant_report(
    *,
    backend: str,
    precision: str,
    device: str,
    gemm_gflops: float,
    encoder_flops: Mapping[str, int],
    cases: Mapping[str, Mapping[str, Sequence[Measurement]]],
    case_names: Mapping[str, str],
    isolated: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any]:
    """One backend × precision: medians per case and implementation, ratios, derived figures.

    ``cases`` maps a case key (``"1x1"``, ``"1x10"``, ``"4x1"``) to each implementation's
    runs; the first implementation is ours, a second one (if any) is the reference.
    ``encoder_flops`` is each implementation's work in its ``encode_image`` stage.
    """
    report: dict[str, Any] = {
        "backend": backend,
        "precision": precision,
        "device": device,
        "gemm_gflops": gemm_gflops,
        "encoder_flops": dict(encoder_flops),
        "cases": {},
        "isolated": {name: dict(values) for name, values in isolated.items()},
    }
    for key, per_impl in cases.items():
        entry: dict[str, Any] = {"name": case_names[key]}
        for impl, runs in per_impl.items():
            entry[impl] = {
                "seconds": median_seconds(runs),
                "kept": runs[-1].kept,
                "runs": len(runs),
            }
        impls = list(per_impl)
        if len(impls) == 2:
            entry["ratio"] = ratios(entry[impls[0]]["seconds"], entry[impls[1]]["seconds"])
        report["cases"][key] = entry
    report["implementations"] = list(next(iter(cases.values()))) if cases else []
    one = report["cases"].get("1x1")
    if one:
        for impl in report["implementations"]:
            seconds = one[impl]["seconds"]["encode_image"]
            achieved = encoder_flops[impl] / seconds / 1e9
            one[impl]["encoder_gflops"] = achieved
            one[impl]["roofline_fraction"] = achieved / gemm_gflops
    many = [k for k in report["cases"] if k.startswith("1x") and k != "1x1"]
    if one and many:
        prompts = int(many[0][2:])
        report["extra_prompt_s"] = {
            impl: extra_prompt_seconds(
                one[impl]["seconds"], report["cases"][many[0]][impl]["seconds"], prompts
            )
            for impl in report["implementations"]
        }
    return report


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _rows(variant: Mapping[str, Any]) -> list[list[str]]:
    impls = variant["implementations"]
    rows = []
    for case in variant["cases"].values():
        for stage in ROWS:
            row = [case["name"] if stage == STAGES[0] else "", stage]
            row += [_seconds(case[impl]["seconds"].get(stage)) for impl in impls]
            if "ratio" in case:
                row.append(_ratio(case["ratio"].get(stage)))
            rows.append(row)
        kept = " / ".join(str(case[impl]["kept"]) for impl in impls)
        rows.append(
            ["", "masks kept", *([kept] + [""] * (len(impls) - 1)), *([""] * ("ratio" in case))]
        )
    return rows


def _summary(variant: Mapping[str, Any]) -> list[str]:
    impls = variant["implementations"]
    lines = []
    one = variant["cases"].get("1x1", {})
    for impl in impls:
        if "encoder_gflops" in one.get(impl, {}):
            lines.append(
                f"{impl}: image encoder {one[impl]['encoder_gflops']:.0f} GFLOP/s = "
                f"{one[impl]['roofline_fraction']:.2f} of the GEMM rate "
                f"({variant['encoder_flops'][impl] / 1e9:,.1f} GFLOP per image)"
            )
    extra = variant.get("extra_prompt_s")
    if extra:
        parts = [f"{impl} {_seconds(extra[impl])}" for impl in impls]
        ratio = f" (ratio {extra[impls[0]] / extra[impls[1]]:.2f})" if len(impls) == 2 else ""
        lines.append("each extra prompt on an encoded image: " + ", ".join(parts) + ratio)
    for impl, values in variant["isolated"].items():
        memory = values.get("peak_cuda_bytes", values["peak_rss_bytes"])
        kind = "peak CUDA memory" if "peak_cuda_bytes" in values else "peak RSS"
        lines.append(
            f"{impl} (fresh process): import {values['import_s']:.1f} s, load "
            f"{values['load_s']:.2f} s, first result {values['first_result_s']:.1f} s, "
            f"{kind} {memory / GIB:.2f} GiB"
        )
    return lines


def _header(variant: Mapping[str, Any]) -> list[str]:
    impls = variant["implementations"]
    ratio = [f"{impls[0]}/{impls[1]}"] if len(impls) == 2 else []
    return ["case", "stage", *impls, *ratio]


def _title(variant: Mapping[str, Any], resolution: int) -> str:
    return (
        f"{variant['backend']} {variant['precision']} on {variant['device']} at {resolution} px "
        f"— measured GEMM rate {variant['gemm_gflops']:.0f} GFLOP/s"
    )


def format_table(report: Mapping[str, Any]) -> str:
    """The report as aligned text, one block per backend × precision (titled with the model's
    input size, ``report["resolution"]``)."""
    blocks = []
    for variant in report["variants"]:
        header, rows = _header(variant), _rows(variant)
        widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
        lines = [_title(variant, report["resolution"])]
        for row in [header, *rows]:
            cells = [
                c.ljust(w) if i < 2 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            ]
            lines.append("  ".join(cells).rstrip())
        blocks.append("\n".join([*lines, *_summary(variant)]))
    return "\n\n".join(blocks)


def format_markdown(report: Mapping[str, Any]) -> str:
    """The report as Markdown tables, with the machine and the command that produced it."""
    machine = report["machine"]
    out = [
        f"Command: `{report['command']}`",
        "",
        f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gib']:.0f} GiB; "
        f"{machine['accelerator']}; torch {machine['torch']}, transformers "
        f"{machine['transformers'] or 'not installed'}. Model: {report['model']}, input "
        f"{report['resolution']} × {report['resolution']} px.",
    ]
    for variant in report["variants"]:
        header = _header(variant)
        title = _title(variant, report["resolution"])
        out += ["", f"### {title}", "", "| " + " | ".join(header) + " |"]
        out.append("|" + "|".join(["---"] * 2 + ["---:"] * (len(header) - 2)) + "|")
        out += ["| " + " | ".join(row) + " |" for row in _rows(variant)]
        out += [""] + [f"- {line}" for line in _summary(variant)]
    return "\n".join(out) + "\n"
