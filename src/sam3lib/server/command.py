"""``sam3lib serve``: the HTTP API on one shared model (needs ``pip install 'sam3lib[server]'``).

Example:
    sam3lib serve --model facebook/sam3 --port 8000
    sam3lib serve --resolution 672      # the model at 672 px input: faster, coarser masks
    curl -F image=@street.jpg -F prompts="red car" http://127.0.0.1:8000/v1/segment

    SAM3LIB_API_KEY=$(cat key.txt) sam3lib serve --cors-origin https://app.example.com
    curl -H "Authorization: Bearer $(cat key.txt)" http://127.0.0.1:8000/v1/info
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from sam3lib.errors import Sam3Error
from sam3lib.segment_command import (
    add_model_arguments,
    add_translation_argument,
    chosen_translator,
    load_segmenter,
)

_NEEDED = ("fastapi", "uvicorn", "multipart")  # multipart: python-multipart, for uploads


def build_parser() -> argparse.ArgumentParser:
    # Defaults mirror ServerLimits; not imported from there, so `--help` needs no extra.
    parser = argparse.ArgumentParser(
        prog="sam3lib serve",
        description="Serve SAM 3 segmentation over HTTP: POST /v1/segment (text and exemplar "
        "boxes), /v1/predict (clicks, object boxes), /v1/generate (automatic masks); OpenAPI "
        "docs at /docs.",
    )
    add_model_arguments(parser)  # --model, --backend, --precision, --device, --resolution
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: loopback only)"
    )
    parser.add_argument("--port", type=int, default=8000)
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
    add_translation_argument(parser)
    _add_access_arguments(parser)
    return parser


def _add_access_arguments(parser: argparse.ArgumentParser) -> None:
    key = parser.add_mutually_exclusive_group()
    key.add_argument(
        "--api-key",
        metavar="KEY",
        help="require 'Authorization: Bearer KEY' on /v1/* (visible to `ps`: prefer "
        "--api-key-file or $SAM3LIB_API_KEY, which this flag overrides)",
    )
    key.add_argument(
        "--api-key-file",
        type=Path,
        metavar="PATH",
        help="read the API key from this file (surrounding whitespace dropped)",
    )
    parser.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="let scripts from this origin (https://app.example.com) call the API; repeat "
        "for more (default: none, no CORS headers)",
    )


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

    from sam3lib.server.access import check_cors_origins, resolve_api_key
    from sam3lib.server.app import create_app
    from sam3lib.server.jsonlog import configure_json_logging
    from sam3lib.server.limits import MEBIBYTE, ServerLimits

    # Checked before the model loads: a bad key or origin fails in a second, not a minute.
    api_key = resolve_api_key(args.api_key, args.api_key_file, os.environ)
    cors_origins = check_cors_origins(args.cors_origin)
    limits = ServerLimits(
        max_request_bytes=round(args.max_request_mb * MEBIBYTE),
        max_image_pixels=args.max_image_pixels,
        max_prompts=args.max_prompts,
        workers=args.workers,
        max_waiting=args.max_queue,
    )
    logger = configure_json_logging(args.log_level)
    segmenter = load_segmenter(args, translator=chosen_translator(args))
    app = create_app(
        segmenter,
        model_name=args.model,
        limits=limits,
        logger=logger,
        api_key=api_key,
        cors_origins=cors_origins,
    )
    # Whether a key is needed, never which.
    access = {"api_key_required": api_key is not None, "cors_origins": cors_origins}
    logger.info("access", extra={"fields": access})
    # log_config=None keeps the JSON logging set up above; requests are logged by the app.
    uvicorn.run(app, host=args.host, port=args.port, log_config=None, access_log=False)
    return 0
