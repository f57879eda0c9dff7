"""``sam3lib serve``: the HTTP API on one shared model (needs ``pip install 'sam3lib[server]'``).

Example:
    sam3lib serve --model facebook/sam3 --port 8000
    curl -F image=@street.jpg -F prompts="red car" http://127.0.0.1:8000/v1/segment
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Sequence

from sam3lib.backends import BACKEND_MODULES, PRECISIONS
from sam3lib.errors import Sam3Error
from sam3lib.segment_command import DEFAULT_MODEL

_NEEDED = ("fastapi", "uvicorn", "multipart")  # multipart: python-multipart, for uploads


def build_parser() -> argparse.ArgumentParser:
    # Defaults mirror ServerLimits; not imported from there, so `--help` needs no extra.
    parser = argparse.ArgumentParser(
        prog="sam3lib serve",
        description="Serve SAM 3 segmentation over HTTP (OpenAPI docs at /docs).",
    )
    parser.add_argument("--model", default=DEFAULT_MODEL, help="hub repo id, directory or file")
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: loopback only)"
    )
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--backend", choices=sorted(BACKEND_MODULES), default=None)
    parser.add_argument("--precision", choices=PRECISIONS, default="fp32")
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--workers", type=int, default=1, help="segmentations run at once (default 1)"
    )
    parser.add_argument(
        "--max-queue",
        type=int,
        default=64,
        help="requests waiting for a worker before new ones get 503 (default 64)",
    )
    parser.add_argument(
        "--max-request-mb", type=float, default=10.0, help="largest request body (default 10)"
    )
    parser.add_argument(
        "--max-image-pixels",
        type=int,
        default=4096 * 4096,
        help="largest image, width x height (default 4096x4096)",
    )
    parser.add_argument("--max-prompts", type=int, default=16, help="per request (default 16)")
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    missing = [name for name in _NEEDED if importlib.util.find_spec(name) is None]
    if missing:
        print(
            f"error: sam3lib serve needs {', '.join(missing)}: pip install 'sam3lib[server]'",
            file=sys.stderr,
        )
        return 1
    try:
        return _serve(args)
    except Sam3Error as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from sam3lib.segmenter import Segmenter
    from sam3lib.server.app import create_app
    from sam3lib.server.jsonlog import configure_json_logging
    from sam3lib.server.limits import MEBIBYTE, ServerLimits

    limits = ServerLimits(
        max_request_bytes=round(args.max_request_mb * MEBIBYTE),
        max_image_pixels=args.max_image_pixels,
        max_prompts=args.max_prompts,
        workers=args.workers,
        max_waiting=args.max_queue,
    )
    logger = configure_json_logging(args.log_level)
    segmenter = Segmenter.from_pretrained(
        args.model, device=args.device, backend=args.backend, precision=args.precision
    )
    app = create_app(segmenter, model_name=args.model, limits=limits, logger=logger)
    # log_config=None keeps the JSON logging set up above; requests are logged by the app.
    uvicorn.run(app, host=args.host, port=args.port, log_config=None, access_log=False)
    return 0
