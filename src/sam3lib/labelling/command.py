"""``sam3lib label``: label a folder of images into a COCO, YOLO or JSON lines dataset.

Example:
    sam3lib label photos/ --prompt car --prompt person --out dataset/ --format coco

Exit status: 0 when every image was labelled, 3 when some could not be (they are listed in
``OUT/errors.jsonl``), 1 on an error that stops the run (bad arguments, a model that does not
load, an ``OUT`` holding a run made with other settings), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from sam3lib.errors import Sam3Error
from sam3lib.labelling.loading import DEFAULT_MAX_PIXELS
from sam3lib.labelling.settings import FORMATS, MASK_ENCODINGS
from sam3lib.segment_command import add_model_arguments


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sam3lib label",
        description="Label every image of SOURCE with the prompts into a dataset in OUT. "
        "Results are committed as they come: run the same command again to resume after a "
        "crash (what is done is skipped). Images that cannot be read are listed in "
        "OUT/errors.jsonl and the run goes on.",
    )
    parser.add_argument(
        "source",
        metavar="SOURCE",
        help="a directory (searched recursively), a glob in quotes ('photos/**/*.jpg'), a "
        ".txt file of paths (relative to it), or one image",
    )
    parser.add_argument(
        "--prompt",
        action="append",
        required=True,
        metavar="TEXT",
        help="a category to find (repeat for several; ids from 1 in this order)",
    )
    parser.add_argument("--out", type=Path, required=True, help="the dataset directory")
    parser.add_argument("--format", choices=FORMATS, default="coco")
    parser.add_argument(
        "--mask-encoding", choices=MASK_ENCODINGS, default="rle", help="COCO masks (default rle)"
    )
    add_model_arguments(parser)  # --model, --backend, --precision, --device, --resolution
    parser.add_argument("--threshold", type=float, default=0.5, help="score threshold")
    parser.add_argument("--mask-threshold", type=float, default=0.5)
    parser.add_argument("--top-k", type=int, default=None)
    parser.add_argument("--nms-iou", type=float, default=None)
    parser.add_argument("--refine", type=int, default=0, metavar="LEVEL", help="0 (off) to 5")
    parser.add_argument(
        "--max-pixels",
        type=int,
        default=DEFAULT_MAX_PIXELS,
        help="larger images are recorded as failed instead of decoded",
    )
    parser.add_argument("--overlays", action="store_true", help="write overlays/<image>.png")
    parser.add_argument(
        "--instance-maps", action="store_true", help="write instance_maps/<image>.png"
    )
    parser.add_argument("--batch-size", type=int, default=1, help="images encoded together")
    parser.add_argument("--workers", type=int, default=2, help="image decoding threads")
    parser.add_argument("--shard-size", type=int, default=64, help="images per commit")
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=None,
        help="torch CPU threads for the model (1 helps where decoding large photos dominates)",
    )
    parser.add_argument(
        "--retry-failed",
        action="store_true",
        help="label again the images an earlier run of OUT recorded as failed",
    )
    parser.add_argument("--engine", choices=("local", "ray"), default="local")
    parser.add_argument(
        "--ray-address", default=None, help="join this Ray cluster (default: start a local one)"
    )
    parser.add_argument("--ray-actors", type=int, default=2, help="Segmenter actors on Ray")
    parser.add_argument(
        "--ray-gpus-per-actor", type=float, default=0.0, help="1: one actor per GPU; 0: CPU"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from sam3lib.labelling.run import label  # torch is imported only when there is work

    try:
        summary = label(
            args.source,
            args.prompt,
            args.out,
            model=args.model,
            format=args.format,
            mask_encoding=args.mask_encoding,
            engine=args.engine,
            backend=args.backend,
            precision=args.precision,
            device=args.device,
            resolution=args.resolution,
            threshold=args.threshold,
            mask_threshold=args.mask_threshold,
            top_k=args.top_k,
            nms_iou=args.nms_iou,
            refine=args.refine,
            max_pixels=args.max_pixels,
            overlays=args.overlays,
            instance_maps=args.instance_maps,
            batch_size=args.batch_size,
            workers=args.workers,
            shard_size=args.shard_size,
            torch_threads=args.torch_threads,
            retry_failed=args.retry_failed,
            progress=False if args.no_progress else None,
            ray_address=args.ray_address,
            ray_actors=args.ray_actors,
            ray_gpus_per_actor=args.ray_gpus_per_actor,
        )
    except Sam3Error as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(summary)
    return summary.exit_status
