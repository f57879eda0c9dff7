"""``sam3lib segment``: segment images from the command line, save overlays and JSON.

Example:
    sam3lib segment street.jpg --prompt "red car" --prompt bicycle --out cars.png --json cars.json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sam3lib.backends import BACKEND_MODULES, PRECISIONS
from sam3lib.errors import Sam3Error
from sam3lib.result import SegmentationResult
from sam3lib.visualize import draw_overlay

DEFAULT_MODEL = "facebook/sam3"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sam3lib segment",
        description="Find every instance of the prompted concepts in each image.",
    )
    parser.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    parser.add_argument(
        "--prompt", action="append", default=[], metavar="TEXT", help="repeat for several"
    )
    parser.add_argument(
        "--box",
        action="append",
        default=[],
        type=_box,
        metavar="X0,Y0,X1,Y1",
        help="positive exemplar box in pixels (repeatable)",
    )
    parser.add_argument(
        "--negative-box",
        action="append",
        default=[],
        type=_box,
        metavar="X0,Y0,X1,Y1",
        help="negative exemplar box in pixels (repeatable)",
    )
    parser.add_argument("--model", default=DEFAULT_MODEL, help="hub repo id, directory or file")
    parser.add_argument(
        "--out", type=Path, help="overlay image (a directory when there are several images)"
    )
    parser.add_argument("--json", type=Path, help="write the results as JSON (COCO RLE masks)")
    parser.add_argument("--backend", choices=sorted(BACKEND_MODULES), default=None)
    parser.add_argument("--precision", choices=PRECISIONS, default="fp32")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threshold", type=float, default=0.5, help="score threshold")
    parser.add_argument("--mask-threshold", type=float, default=0.5)
    parser.add_argument("--top-k", type=int, default=None)
    parser.add_argument("--refine", type=int, default=0, metavar="LEVEL", help="0 (off) to 5")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not args.prompt and not args.box and not args.negative_box:
        print("error: give at least one --prompt or --box", file=sys.stderr)
        return 2
    try:
        return _run(args)
    except Sam3Error as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace) -> int:
    from sam3lib.segmenter import Segmenter  # torch is imported only when there is work

    segmenter = Segmenter.from_pretrained(
        args.model, device=args.device, backend=args.backend, precision=args.precision
    )
    boxes = args.box + args.negative_box
    options: dict[str, Any] = {
        "boxes": boxes or None,
        "box_labels": [1] * len(args.box) + [0] * len(args.negative_box) if boxes else None,
        "threshold": args.threshold,
        "mask_threshold": args.mask_threshold,
        "top_k": args.top_k,
        "refine": args.refine or None,
    }
    prompts: list[str] | None = args.prompt or None
    several = len(args.images) > 1
    if args.out is not None and several:
        args.out.mkdir(parents=True, exist_ok=True)
    report = []
    for path in args.images:
        results = segmenter.segment(path, prompts, **options)
        per_image = results if isinstance(results, list) else [results]
        _print_summary(path, per_image)
        if args.out is not None:
            target = args.out / f"{path.stem}.png" if several else args.out
            draw_overlay(path, per_image).save(target)
        report.append({"image": str(path), "results": [r.to_dict() for r in per_image]})
    if args.json is not None:
        args.json.write_text(json.dumps({"model": args.model, "images": report}, indent=2))
    return 0


def _print_summary(path: Path, results: list[SegmentationResult]) -> None:
    print(path)
    for result in results:
        scores = ", ".join(f"{score:.2f}" for score in result.scores)
        print(f"  {result.label}: {len(result)} instance(s)" + (f" [{scores}]" if scores else ""))


def _box(text: str) -> list[float]:
    parts = text.split(",")
    try:
        values = [float(part) for part in parts]
    except ValueError:
        values = []
    if len(values) != 4:
        raise argparse.ArgumentTypeError(f"expected X0,Y0,X1,Y1 (four numbers), got {text!r}")
    return values
