"""``sam3lib export CHECKPOINT OUT_DIR``: write the ONNX graphs and their manifest.

Example:
    sam3lib export facebook/sam3 sam3-onnx --max-prompts 16 --max-boxes 4
    sam3lib export facebook/sam3 sam3-onnx-672 --resolution 672   # graphs for 672 px input
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from sam3lib.errors import Sam3Error
from sam3lib.export.graphs import GraphOptions
from sam3lib.export.onnx_export import DEFAULT_OPSET, MIN_OPSET


def build_parser() -> argparse.ArgumentParser:
    defaults = GraphOptions()
    parser = argparse.ArgumentParser(
        prog="sam3lib export",
        description="Export SAM 3 to ONNX: image encoder, text encoder and decoder graphs, "
        "the interactive encoder and decoder when the checkpoint has the interactive head, "
        "plus manifest.json. Run the directory with backend='onnxruntime' or 'tensorrt'.",
    )
    parser.add_argument("checkpoint", help="hub repo id, checkpoint directory or weights file")
    parser.add_argument("out_dir", type=Path, help="directory to write (created if needed)")
    parser.add_argument(
        "--precision",
        choices=["fp32"],
        default="fp32",
        help="graph precision; TensorRT builds fp16/bf16 engines from the fp32 graphs",
    )
    parser.add_argument("--batch", type=int, default=defaults.batch, help="images per call")
    parser.add_argument(
        "--max-prompts", type=int, default=defaults.max_prompts, help="prompts per call"
    )
    parser.add_argument(
        "--max-boxes", type=int, default=defaults.max_boxes, help="exemplar boxes per prompt"
    )
    parser.add_argument(
        "--max-objects",
        type=int,
        default=defaults.max_objects,
        help="objects (boxes of predict(boxes=...)) per interactive-decoder call; more run in "
        "chunks",
    )
    parser.add_argument(
        "--max-points",
        type=int,
        default=defaults.max_points,
        help="points per object in the interactive decoder: clicks + 2 per box + 1 padding",
    )
    parser.add_argument(
        "--resolution",
        type=int,
        default=None,
        metavar="PIXELS",
        help="input size the graphs take, a multiple of 336 (default: the checkpoint's, "
        "1008); fixed once exported",
    )
    parser.add_argument(
        "--opset", type=int, default=DEFAULT_OPSET, help=f"ONNX opset (>= {MIN_OPSET})"
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="graphs traced at once, one process and one model copy each (default 1)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the process exit status (0 ok, 1 failed, 2 bad usage)."""
    args = build_parser().parse_args(argv)
    try:
        # torch only when there is work
        from sam3lib.checkpoint import load_resolved_model, resolve_checkpoint
        from sam3lib.export.onnx_export import export_onnx

        resolved = resolve_checkpoint(args.checkpoint)
        # At --resolution: a size the model cannot run is refused before the weights are read.
        model = load_resolved_model(resolved, resolution=args.resolution)
        manifest = export_onnx(
            model,
            args.out_dir,
            GraphOptions(
                args.batch, args.max_prompts, args.max_boxes, args.max_objects, args.max_points
            ),
            opset=args.opset,
            tokenizer_files=resolved.tokenizer_files,
            progress=not args.quiet,
            jobs=args.jobs,
        )
    except Sam3Error as error:
        print(f"sam3lib export: error: {error}", file=sys.stderr)
        return 1
    files = ", ".join(name for graph in manifest.graphs.values() for name in graph.files())
    size = manifest.image_size
    print(f"wrote {files} and manifest.json ({size} x {size} px input) to {args.out_dir}")
    return 0
