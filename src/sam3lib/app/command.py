"""``sam3lib app``: the web demo on one shared model (needs ``pip install 'sam3lib[app]'``).

Example:
    sam3lib app --model facebook/sam3 --port 7860   # then open http://127.0.0.1:7860
    sam3lib app --resolution 672                    # the model at 672 px input: faster
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Sequence

from sam3lib.errors import Sam3Error
from sam3lib.segment_command import (
    add_model_arguments,
    add_translation_argument,
    chosen_translator,
    load_segmenter,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sam3lib app",
        description="A web page to try SAM 3: drop an image, type a prompt (or click an "
        "object), see the masks.",
    )
    # --model, --backend, --precision (the one at start), --device, --resolution (every
    # model the page loads runs at it)
    add_model_arguments(parser)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback)")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument(
        "--concurrency", type=int, default=1, help="requests segmented at once (default 1)"
    )
    parser.add_argument(
        "--max-queue", type=int, default=32, help="requests waiting before new ones are refused"
    )
    add_translation_argument(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if importlib.util.find_spec("gradio") is None:
        print("error: sam3lib app needs gradio: pip install 'sam3lib[app]'", file=sys.stderr)
        return 1
    try:
        return _launch(args)
    except (Sam3Error, OSError) as error:  # OSError: the port is taken
        print(f"error: {error}", file=sys.stderr)
        return 1


def _launch(args: argparse.Namespace) -> int:
    from sam3lib.app.storage import DOWNLOADS, private_gradio_folder
    from sam3lib.app.ui import build_app

    segmenter = load_segmenter(args, translator=chosen_translator(args))
    # Entered before build_app imports gradio: the page serves files from this folder only.
    with private_gradio_folder() as folder:
        demo = build_app(segmenter, source=args.model, downloads_dir=folder / DOWNLOADS)
        demo.queue(default_concurrency_limit=args.concurrency, max_size=args.max_queue)
        # ssr_mode=False: server-side rendering needs Node.js, which the demo does not.
        demo.launch(server_name=args.host, server_port=args.port, ssr_mode=False)
    return 0
