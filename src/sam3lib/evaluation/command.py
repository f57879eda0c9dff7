"""``sam3lib eval``: accuracy of SAM 3 on labelled images, as JSON, Markdown and plots.

Example:
    sam3lib eval --ground-truth instances_val.json --images val/ --model facebook/sam3 \\
        --json report.json --markdown report.md
    sam3lib eval --ground-truth gold_a.json --ground-truth gold_b.json \\
        --predictions sam3_results.json --json report.json

Exit status: 0 when the evaluation ran, 1 on an error (unreadable files, predictions that do
not match the ground truth, a model that does not load), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sam3lib.errors import InputError, Sam3Error
from sam3lib.segment_command import add_model_arguments


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sam3lib eval",
        description="Evaluate SAM 3 against labels: COCO mask and box AP (pycocotools), mIoU "
        "and SA-Co's cgF1. Predictions come from a COCO results file (--predictions) or from "
        "running the model over --images (resumable: its state is kept in --work).",
    )
    parser.add_argument(
        "--ground-truth",
        action="append",
        required=True,
        type=Path,
        metavar="ANNOTATIONS.json",
        help="COCO instances or SA-Co file; repeat for SA-Co's oracle setting (annotators)",
    )
    parser.add_argument("--images", type=Path, help="directory of the ground truth's images")
    parser.add_argument("--predictions", type=Path, metavar="RESULTS.json")
    parser.add_argument(
        "--prompts",
        type=Path,
        metavar="MAP.json",
        help="COCO: a JSON object mapping category names to the phrases to prompt with",
    )
    add_model_arguments(parser)  # --model, --backend, --precision, --device, --resolution
    parser.add_argument(
        "--threshold",
        type=float,
        default=0.05,
        help="model runs: keep predictions from this score (low, so AP sees the tail)",
    )
    parser.add_argument(
        "--score-threshold",
        type=float,
        default=0.5,
        help="predictions count for mIoU and cgF1 from this score (cgF1 is defined at 0.5)",
    )
    parser.add_argument("--batch-size", type=int, default=1, help="model runs: images per batch")
    parser.add_argument("--work", type=Path, default=Path("sam3lib-eval"), help="model run state")
    parser.add_argument("--json", type=Path, metavar="REPORT.json")
    parser.add_argument("--markdown", type=Path, metavar="REPORT.md")
    parser.add_argument("--plots", type=Path, metavar="DIR", help="PNG plots (extra 'eval')")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.predictions is None and args.images is None:
        print(
            "error: give --predictions RESULTS.json, or --images DIR to run the model",
            file=sys.stderr,
        )
        return 2
    try:
        report = _run(args)
    except Sam3Error as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for name, value in (
        ("mask AP", report.mask_ap),
        ("box AP", report.box_ap),
        ("mIoU", report.miou),
        ("cgF1", report.cgf1),
    ):
        print(f"{name}: {'–' if value is None else f'{value:.4f}'}")
    if args.json is not None:
        report.write_json(args.json)
    if args.markdown is not None:
        report.write_markdown(args.markdown)
    if args.plots is not None:
        for path in report.write_plots(args.plots):
            print(f"wrote {path}")
    return 0


def _run(args: argparse.Namespace) -> Any:
    from sam3lib.evaluation.run import evaluate  # pycocotools, the model: only when running

    prompts = _read_prompts(args.prompts) if args.prompts is not None else None
    if args.predictions is not None:
        return evaluate(
            args.ground_truth,
            predictions=args.predictions,
            prompts=prompts,
            score_threshold=args.score_threshold,
        )
    return evaluate(
        args.ground_truth,
        images=args.images,
        work=args.work,
        prompts=prompts,
        score_threshold=args.score_threshold,
        model=args.model,
        backend=args.backend,
        precision=args.precision,
        device=args.device,
        resolution=args.resolution,
        threshold=args.threshold,
        batch_size=args.batch_size,
    )


def _read_prompts(path: Path) -> dict[str, str]:
    try:
        mapping = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InputError(f"prompts: could not read '{path}' as JSON ({error})") from None
    if not isinstance(mapping, dict) or not all(
        isinstance(key, str) and isinstance(value, str) and value.strip()
        for key, value in mapping.items()
    ):
        raise InputError(f"prompts: '{path}' must map category names to non-empty phrases")
    return mapping
