"""What ``sam3lib eval`` reports: headline numbers, the details beside them, as JSON, Markdown
and (with matplotlib, the ``eval`` extra) plots."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["EvaluationReport"]

_PHRASES_LISTED = 20  # the Markdown table of per-phrase mIoU shows the worst this many


@dataclass(frozen=True)
class EvaluationReport:
    """An evaluation against labels.

    Attributes:
        mask_ap: COCO mask AP@[.5:.95] (pycocotools), a fraction in [0, 1].
        box_ap: COCO box AP@[.5:.95].
        miou: mean IoU (see :mod:`sam3lib.evaluation.miou`); NaN when nothing was scored.
        cgf1: SA-Co's cgF1 (see :mod:`sam3lib.evaluation.cgf1`), masks.
        details: everything else: the ground truth and predictions evaluated, every COCO
            number, the cgF1 breakdown, mIoU per phrase.
    """

    mask_ap: float | None
    box_ap: float | None
    miou: float | None
    cgf1: float | None
    details: dict[str, Any] = field(default_factory=dict)
    #: precision-recall arrays and per-query IoUs for the plots; not in the JSON
    curves: dict[str, npt.NDArray[np.float64]] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The JSON report: ``mask_ap``, ``box_ap``, ``miou``, ``cgf1`` on top (fractions
        like pycocotools' stats; NaN written as null), ``details`` beside them."""
        return json_safe(
            {
                "mask_ap": self.mask_ap,
                "box_ap": self.box_ap,
                "miou": self.miou,
                "cgf1": self.cgf1,
                **self.details,
            }
        )

    def write_json(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n")

    def to_markdown(self) -> str:
        """The report as Markdown tables."""
        lines = ["# Evaluation", ""]
        truth = self.details.get("ground_truth", {})
        lines += [
            f"Ground truth: {truth.get('kind', '?')} ({', '.join(truth.get('files', []))}), "
            f"{truth.get('evaluated_queries', '?')} queries (image × phrase) evaluated of "
            f"{truth.get('queries', '?')}.",
            "",
            "| metric | value |",
            "| --- | --- |",
            f"| mask AP@[.5:.95] | {format_number(self.mask_ap)} |",
            f"| box AP@[.5:.95] | {format_number(self.box_ap)} |",
            f"| mIoU | {format_number(self.miou)} |",
            f"| cgF1 | {format_number(self.cgf1)} |",
            "",
        ]
        coco = self.details.get("coco", {})
        if coco:
            names = list(next(iter(coco.values())))
            lines += ["## COCO (pycocotools)", "", "| | " + " | ".join(coco) + " |"]
            lines += ["| --- |" + " --- |" * len(coco)]
            for name in names:
                row = " | ".join(format_number(coco[kind][name]) for kind in coco)
                lines.append(f"| {name} | {row} |")
            lines.append("")
        cgf1 = self.details.get("cgf1_metrics", {})
        if cgf1:
            lines += ["## cgF1 (SA-Co)", "", "| metric | value |", "| --- | --- |"]
            lines += [f"| {name} | {format_number(value)} |" for name, value in cgf1.items()]
            lines.append("")
        per_phrase = self.details.get("miou_per_phrase", {})
        if per_phrase:
            worst = sorted(per_phrase.items(), key=lambda item: item[1])[:_PHRASES_LISTED]
            lines += [
                f"## mIoU per phrase (the {len(worst)} lowest)",
                "",
                "| phrase | mIoU |",
                "| --- | --- |",
            ]
            lines += [f"| {phrase} | {format_number(value)} |" for phrase, value in worst]
            lines.append("")
        return "\n".join(lines)

    def write_markdown(self, path: str | Path) -> None:
        Path(path).write_text(self.to_markdown(), encoding="utf-8")

    def write_plots(self, directory: str | Path) -> list[Path]:
        """Precision-recall curves (masks and boxes) and the IoU histogram as PNGs.

        Raises:
            BackendUnavailableError: matplotlib is not installed (the ``eval`` extra).
        """
        from sam3lib.evaluation.plots import write_plots

        return write_plots(self.curves, Path(directory))


def format_number(value: object) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def json_safe(value: Any) -> Any:
    """NaN and infinities as null (JSON has neither); numpy scalars as Python numbers."""
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
