"""The ``sam3lib`` command line (also ``python -m sam3lib``): dispatches to subcommands.

Each subcommand owns its arguments in the module that does the work, exposing a function
``(argv) -> exit status`` (``main`` unless named after a colon); this module only routes to
it, importing it lazily so that ``sam3lib --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

SUBCOMMANDS = {
    "convert": ("sam3lib.checkpoint.convert", "convert Meta's sam3.pt to model.safetensors"),
    "segment": (
        "sam3lib.segment_command",
        "find every instance of a concept: text prompts and/or exemplar boxes",
    ),
    "click": (
        "sam3lib.interactive_command:click_main",
        "segment ONE object from clicks on it or a box around it",
    ),
    "everything": (
        "sam3lib.interactive_command:everything_main",
        "automatic masks of every object, no prompt",
    ),
    "track": (
        "sam3lib.track_command",
        "track objects through a video: a text prompt, or clicks/boxes on one frame",
    ),
    "label": (
        "sam3lib.labelling.command",
        "label a folder of images into a COCO/YOLO/JSONL dataset, resumable",
    ),
    "eval": (
        "sam3lib.evaluation.command",
        "accuracy against labels: COCO AP, mIoU, cgF1 (extra 'eval')",
    ),
    "export": ("sam3lib.export.command", "export the model to ONNX graphs and a manifest"),
    "app": ("sam3lib.app.command", "web demo: type a prompt, or click objects (extra 'app')"),
    "serve": (
        "sam3lib.server.command",
        "HTTP API: /v1/segment, /v1/predict, /v1/generate (extra 'server')",
    ),
    "bench": ("sam3lib.bench.command", "time each stage per backend, next to transformers"),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sam3lib", description="SAM 3 runtime utilities.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (_, summary) in SUBCOMMANDS.items():
        commands.add_parser(name, help=summary, add_help=False)
    args, rest = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    module_name, _, function = SUBCOMMANDS[args.command][0].partition(":")
    module = importlib.import_module(module_name)
    status: int = getattr(module, function or "main")(rest)
    return status
