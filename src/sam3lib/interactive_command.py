"""``sam3lib click`` and ``sam3lib everything``: SAM 3's interactive head from the command line.

The names keep apart two things a "box" can mean. ``sam3lib segment --box`` gives an
*exemplar*: "find every object like this one" (the concept detector). ``sam3lib click --box``
outlines *this one object* (:meth:`Segmenter.predict`), as do its ``--point`` clicks.
``sam3lib everything`` takes no prompt at all: a grid of clicks finds every object
(:meth:`Segmenter.generate`). Both write the same files as ``segment`` (overlay, mask label
map, JSON).

Example:
    sam3lib click photo.jpg --point 410,220 --negative-point 380,260 --out dog.png
    sam3lib click photo.jpg --box 100,80,420,300 --masks dog_mask.png
    sam3lib everything photo.jpg --points-per-side 16 --out all.png --json all.json
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sam3lib.interactive.mask_generation import MaskGenerationOptions
from sam3lib.segment_command import (
    Outputs,
    add_model_arguments,
    add_output_arguments,
    load_segmenter,
    parse_box,
    parse_point,
    run_reporting_errors,
)

CLICK_DESCRIPTION = (
    "Segment ONE object from clicks on it (--point), clicks off it (--negative-point) and/or "
    "a box around it (--box), with SAM 3's interactive head. One --box with any clicks is one "
    "object; several --box (no clicks) are one object each. Not to be confused with `sam3lib "
    "segment --box`, whose box is an exemplar: 'find every object like this one'. "
    "Coordinates are pixels of the image (x right, y down); a point outside it is an error."
)
EVERYTHING_DESCRIPTION = (
    "Find every object in each image with no prompt: a grid of clicks through SAM 3's "
    "interactive head, kept by predicted quality and stability, duplicates removed "
    "(segment-anything's automatic mask generator). Masks are listed largest first."
)

# (help, metavar) of each MaskGenerationOptions field; defaults come from the dataclass.
_GENERATION_HELP: dict[str, str] = {
    "points_per_side": "the click grid has N x N points (default %(default)s)",
    "points_per_batch": "clicks decoded at once: memory, not results (default %(default)s)",
    "pred_iou_thresh": "drop masks whose predicted IoU is not above this (default %(default)s)",
    "stability_score_thresh": "drop masks less stable than this (default %(default)s)",
    "stability_score_offset": "logit shift of the stability score (default %(default)s)",
    "box_nms_thresh": "box IoU above which the weaker of two masks goes (default %(default)s)",
    "crop_n_layers": "extra layers of crops, each encoded again: slower, finds small "
    "objects (default %(default)s)",
    "crop_nms_thresh": "box IoU for duplicates across crops (default %(default)s)",
    "crop_overlap_ratio": "overlap of neighbouring crops (default %(default).3f)",
    "crop_n_points_downscale_factor": "crop layer i has N / factor**i points per side "
    "(default %(default)s)",
    "min_mask_region_area": "remove holes and islands smaller than this many pixels "
    "(default %(default)s: off)",
    "mask_threshold": "logit above which a pixel is in a mask (default %(default)s)",
}


def build_click_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sam3lib click", description=CLICK_DESCRIPTION)
    parser.add_argument("image", type=Path, metavar="IMAGE")
    parser.add_argument(
        "--point",
        action="append",
        default=[],
        type=parse_point,
        metavar="X,Y",
        help="a click on the object, in pixels (repeatable)",
    )
    parser.add_argument(
        "--negative-point",
        "--negative",
        action="append",
        default=[],
        type=parse_point,
        metavar="X,Y",
        help="a click on what is NOT the object (repeatable)",
    )
    parser.add_argument(
        "--box",
        action="append",
        default=[],
        type=parse_box,
        metavar="X0,Y0,X1,Y1",
        help="a box around the object, in pixels; repeat for several objects (then no clicks)",
    )
    parser.add_argument(
        "--multimask",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="let the model propose three candidates and keep the best (default: only for a "
        "single click, whose object is ambiguous; one mask for boxes and several clicks)",
    )
    parser.add_argument(
        "--all-candidates",
        action="store_true",
        help="write every candidate of --multimask, not just the best",
    )
    parser.add_argument(
        "--max-hole-area",
        type=int,
        default=256,
        metavar="PIXELS",
        help="fill holes up to this many low-resolution pixels, as Meta does (0: off; "
        "default %(default)s)",
    )
    add_model_arguments(parser)
    add_output_arguments(parser)
    return parser


def build_everything_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sam3lib everything", description=EVERYTHING_DESCRIPTION)
    parser.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    for option in dataclasses.fields(MaskGenerationOptions):
        default = option.default
        parser.add_argument(
            "--" + option.name.replace("_", "-"),
            type=type(default),
            default=default,
            metavar="N" if isinstance(default, int) else "X",
            help=_GENERATION_HELP[option.name],
        )
    add_model_arguments(parser)
    add_output_arguments(parser)
    return parser


def click_main(argv: Sequence[str] | None = None) -> int:
    """``sam3lib click``; returns the exit status (2: bad arguments, 1: refused input)."""
    args = build_click_parser().parse_args(argv)
    if not args.point and not args.negative_point and not args.box:
        print("error: give at least one --point, --negative-point or --box", file=sys.stderr)
        return 2
    if len(args.box) > 1 and (args.point or args.negative_point):
        print(
            "error: clicks belong to one object: give one --box with clicks, or several --box "
            "alone (one object each)",
            file=sys.stderr,
        )
        return 2
    return run_reporting_errors(_click, args)


def everything_main(argv: Sequence[str] | None = None) -> int:
    """``sam3lib everything``; returns the exit status (2: bad arguments, 1: refused input)."""
    args = build_everything_parser().parse_args(argv)
    return run_reporting_errors(_everything, args)


def _click(args: argparse.Namespace) -> int:
    points = args.point + args.negative_point
    labels = [1] * len(args.point) + [0] * len(args.negative_point)
    prompt: dict[str, Any] = {"points": points or None, "point_labels": labels or None}
    if len(args.box) == 1:
        prompt["box"] = args.box[0]
    elif args.box:
        prompt["boxes"] = args.box
    single_click = len(points) == 1 and not args.box
    multimask = single_click if args.multimask is None else args.multimask
    segmenter = load_segmenter(args)
    result = segmenter.predict(
        args.image, **prompt, multimask=multimask, max_hole_area=args.max_hole_area
    )
    several_objects = len(args.box) > 1
    if not several_objects and not args.all_candidates:
        result = result.best_only()
    outputs = Outputs(args, several=False)
    outputs.add(args.image, [result], prompt={**prompt, "multimask": multimask})
    outputs.finish()
    return 0


def _everything(args: argparse.Namespace) -> int:
    values = {
        option.name: getattr(args, option.name)
        for option in dataclasses.fields(MaskGenerationOptions)
    }
    options = MaskGenerationOptions(**values)
    segmenter = load_segmenter(args)
    outputs = Outputs(args, several=len(args.images) > 1, show_labels=False)
    for path in args.images:
        outputs.add(path, [segmenter.generate(path, options)])
    outputs.finish()
    return 0
