"""``sam3lib eval``: accuracy of SAM 3 on labelled images, or the agreement of two ways of
running it on unlabelled ones, as JSON and Markdown (and plots, for accuracy).

Example:
    sam3lib eval --ground-truth instances_val.json --images val/ --model facebook/sam3 \\
        --json report.json --markdown report.md
    sam3lib eval --ground-truth gold_a.json --ground-truth gold_b.json \\
        --predictions sam3_results.json --json report.json
    sam3lib eval --reference eager:fp32 --candidate amp:bf16 --images photos/ \\
        --prompt cat --prompt "red car" --device cuda --json agreement.json

Exit status: 0 when the evaluation ran, 1 on an error (unreadable files, predictions that do
not match the ground truth, a model or variant that does not load), 2 on a usage error
(including options of one mode given to the other, and a malformed --reference/--candidate).
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

# Options of one mode only, as (argparse dest, flag). Their parser defaults are None, so that
# giving one to the other mode is caught; the defaults below apply in their own mode.
LABEL_OPTIONS = (
    ("ground_truth", "--ground-truth"),
    ("predictions", "--predictions"),
    ("prompts", "--prompts"),
    ("score_threshold", "--score-threshold"),
    ("batch_size", "--batch-size"),
    ("work", "--work"),
    ("plots", "--plots"),
    ("backend", "--backend"),
    ("precision", "--precision"),
    ("resolution", "--resolution"),
)
AGREEMENT_OPTIONS = (("prompt", "--prompt"), ("match_iou", "--match-iou"))
LABEL_DEFAULTS: dict[str, Any] = {
    "precision": "fp32",
    "score_threshold": 0.5,
    "batch_size": 1,
    "work": Path("sam3lib-eval"),
    "threshold": 0.05,  # low, so that AP sees the tail
}
AGREEMENT_DEFAULTS: dict[str, Any] = {"match_iou": 0.5, "threshold": 0.5}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sam3lib eval",
        description="Evaluate SAM 3 against labels: COCO mask and box AP (pycocotools), mIoU "
        "and SA-Co's cgF1. Predictions come from a COCO results file (--predictions) or from "
        "running the model over --images (resumable: its state is kept in --work). Or, "
        "without labels, compare two ways of running it (--reference, --candidate) on "
        "--images: matched instances, mask IoU, score differences, speed and memory.",
    )
    parser.add_argument(
        "--images",
        type=Path,
        help="directory of the ground truth's images; comparing variants: a directory "
        "(searched recursively), a glob or a list file",
    )
    add_model_arguments(parser)  # --model, --backend, --precision, --device, --resolution
    parser.set_defaults(precision=None)  # fp32 in the label mode, see LABEL_DEFAULTS
    parser.add_argument(
        "--threshold",
        type=float,
        help="model runs: keep predictions from this score (default: 0.05 against labels, so "
        "AP sees the tail; 0.5 when comparing variants)",
    )
    parser.add_argument("--json", type=Path, metavar="REPORT.json")
    parser.add_argument("--markdown", type=Path, metavar="REPORT.md")
    labels = parser.add_argument_group("accuracy against labels")
    labels.add_argument(
        "--ground-truth",
        action="append",
        type=Path,
        metavar="ANNOTATIONS.json",
        help="COCO instances or SA-Co file; repeat for SA-Co's oracle setting (annotators)",
    )
    labels.add_argument("--predictions", type=Path, metavar="RESULTS.json")
    labels.add_argument(
        "--prompts",
        type=Path,
        metavar="MAP.json",
        help="COCO: a JSON object mapping category names to the phrases to prompt with",
    )
    labels.add_argument(
        "--score-threshold",
        type=float,
        help="predictions count for mIoU and cgF1 from this score (default 0.5; cgF1 is "
        "defined at 0.5)",
    )
    labels.add_argument("--batch-size", type=int, help="model runs: images per batch (1)")
    labels.add_argument("--work", type=Path, help="model run state (sam3lib-eval)")
    labels.add_argument("--plots", type=Path, metavar="DIR", help="PNG plots (extra 'eval')")
    agreement = parser.add_argument_group(
        "agreement between two variants, no labels",
        "A variant is BACKEND:PRECISION[:RESOLUTION], e.g. eager:fp32, amp:bf16, "
        "amp:fp16:672; both run --model on --device with every --prompt over --images.",
    )
    agreement.add_argument("--reference", metavar="BACKEND:PRECISION[:RES]")
    agreement.add_argument("--candidate", metavar="BACKEND:PRECISION[:RES]")
    agreement.add_argument(
        "--prompt", action="append", metavar="TEXT", help="a text prompt; repeat for more"
    )
    agreement.add_argument(
        "--match-iou",
        type=float,
        help="instances pair one-to-one from this mask IoU (default 0.5)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.reference is not None or args.candidate is not None:
        return _agreement_main(args)
    given = _given(args, AGREEMENT_OPTIONS)
    if given:
        return _usage(
            f"{', '.join(given)}: only for comparing variants (with --reference and --candidate)"
        )
    if not args.ground_truth:
        return _usage(
            "give --ground-truth ANNOTATIONS.json (accuracy against labels), or --reference "
            "and --candidate (agreement between two variants, without labels)"
        )
    _apply_defaults(args, LABEL_DEFAULTS)
    if args.predictions is None and args.images is None:
        return _usage("give --predictions RESULTS.json, or --images DIR to run the model")
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


def _agreement_main(args: argparse.Namespace) -> int:
    """``--reference`` / ``--candidate``: check the combination, run, print and write."""
    given = _given(args, LABEL_OPTIONS)
    if given:
        return _usage(
            f"{', '.join(given)}: not used when comparing variants (each variant names its "
            "backend, precision and resolution; there are no labels)"
        )
    missing = [
        flag
        for flag, value in (
            ("--reference", args.reference),
            ("--candidate", args.candidate),
            ("--images", args.images),
            ("--prompt", args.prompt),
        )
        if not value
    ]
    if missing:
        return _usage(f"comparing variants needs {', '.join(missing)}")
    _apply_defaults(args, AGREEMENT_DEFAULTS)
    from sam3lib.evaluation.variants import Variant

    try:
        reference = Variant.parse(args.reference, "--reference")
        candidate = Variant.parse(args.candidate, "--candidate")
    except InputError as error:
        return _usage(str(error))
    from sam3lib.evaluation.agreement import compare_variants  # torch: only when running

    try:
        report = compare_variants(
            args.images,
            args.prompt,
            reference,
            candidate,
            model=args.model,
            device=args.device,
            threshold=args.threshold,
            match_iou=args.match_iou,
        )
    except Sam3Error as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    found = report.agreement
    iou = found["mask_iou"]
    print(
        f"{candidate} against {reference}: {found['matched']} matched, {found['missed']} "
        f"missed, {found['extra']} extra; mask IoU mean {_plain(iou['mean'])}, min "
        f"{_plain(iou['min'])}; max |Δscore| {_plain(found['score_abs_diff']['max'])}"
    )
    for run in (report.reference, report.candidate):
        total = run.latency()["median"].get("total", float("nan"))
        print(
            f"{run.variant}: {total:.3g} s per image (median), peak RSS "
            f"{run.peak_rss_bytes / 2**20:.0f} MiB"
        )
    if args.json is not None:
        report.write_json(args.json)
    if args.markdown is not None:
        report.write_markdown(args.markdown)
    return 0


def _given(args: argparse.Namespace, options: Sequence[tuple[str, str]]) -> list[str]:
    return [flag for dest, flag in options if getattr(args, dest) is not None]


def _apply_defaults(args: argparse.Namespace, defaults: dict[str, Any]) -> None:
    for name, value in defaults.items():
        if getattr(args, name) is None:
            setattr(args, name, value)


def _usage(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _plain(value: float) -> str:
    return "–" if value != value else f"{value:.4g}"  # NaN: nothing matched


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
