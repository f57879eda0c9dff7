"""Image-encoder time at other input sizes, full-size SAM 3 architecture, this CPU.

Not part of CI (a few minutes). The published architecture (``Sam3Config.sam3()``) with
random weights (speed does not depend on the values), built at each size with the same
weights; ``encode_image`` of random pixels, median of ``--repeats`` after one warm-up, and the
ratio to 1008 — all in one process, sizes interleaved round by round.

    python benchmarks/resolution_speed.py --sizes 672 1008 1344 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

from sam3lib.bench.machine import describe_machine
from sam3lib.bench.weights import random_state_dict, write_checkpoint
from sam3lib.checkpoint import load_resolved_model, resolve_checkpoint
from sam3lib.model import Sam3Config


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[672, 1008, 1344])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    config = Sam3Config.sam3()
    checkpoint = write_checkpoint(config, random_state_dict(config), Path(tempfile.mkdtemp()))
    resolved = resolve_checkpoint(checkpoint)
    # One set of weights, loaded (strictly, as users load them) once per size.
    models = {size: load_resolved_model(resolved, resolution=size) for size in args.sizes}
    seconds: dict[int, list[float]] = {size: [] for size in args.sizes}
    with torch.inference_mode():
        for round_number in range(args.repeats + 1):
            for size, model in models.items():
                pixels = torch.randn(1, 3, size, size)
                started = time.perf_counter()
                model.encode_image(pixels)
                if round_number:  # the first round warms up
                    seconds[size].append(time.perf_counter() - started)
    medians = {size: statistics.median(times) for size, times in seconds.items()}
    base = medians.get(1008)
    report = {
        "machine": describe_machine(),
        "encode_image_seconds": {str(s): round(m, 3) for s, m in medians.items()},
        "tokens": {str(s): (s // 14) ** 2 for s in args.sizes},
        "ratio_to_1008": {str(s): round(m / base, 3) for s, m in medians.items()} if base else {},
    }
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
