"""The ``sam3lib`` command line (also ``python -m sam3lib``)."""

from __future__ import annotations

import argparse
import sys

from sam3lib.errors import Sam3Error


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sam3lib", description="SAM 3 runtime utilities.")
    commands = parser.add_subparsers(dest="command", required=True)
    convert = commands.add_parser(
        "convert", help="convert Meta's sam3.pt into a safetensors checkpoint directory"
    )
    convert.add_argument("checkpoint", help="path to Meta's sam3.pt")
    convert.add_argument("out_dir", help="directory to write model.safetensors + config.json")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "convert":
            from sam3lib.checkpoint.convert import convert_meta_checkpoint

            written = convert_meta_checkpoint(args.checkpoint, args.out_dir)
            print(f"wrote {written}")
    except Sam3Error as err:
        print(f"sam3lib: error: {err}", file=sys.stderr)
        return 1
    return 0
