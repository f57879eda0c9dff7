"""Labelling throughput: the pipeline against a plain loop of ``Segmenter.segment``.

Not part of CI. Two measurements, each in one process, alternating the two ways so that a
machine that drifts affects both alike:

- ``--case large-jpegs`` (default): N JPEGs of 4000×3000 on a tiny random checkpoint, where
  decoding and resizing dominate. The loop is ``segment(path, prompts)`` + ``to_coco_rle()``
  per image (what a user would write); the pipeline is ``sam3lib.label`` (decoding threads
  ahead of the model, shards, COCO assembly). Reported: images/s of each and the ratio.
- ``--case full-size``: N 1280×720 JPEGs on the full-size architecture with random weights
  (speed does not depend on the values), where the model dominates: the pipeline's overhead
  per image over the loop, in percent.

    python benchmarks/label_throughput.py --case large-jpegs --images 24
    python benchmarks/label_throughput.py --case full-size --images 8
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from sam3lib import Segmenter, label
from sam3lib.bench.machine import describe_machine
from sam3lib.bench.weights import random_state_dict, write_checkpoint
from sam3lib.model import Sam3Config

PROMPTS = ["cat", "red car"]


def _write_jpegs(directory: Path, count: int, height: int, width: int) -> list[Path]:
    """Smooth waves plus mild noise, so that JPEG decoding costs what a photo costs."""
    directory.mkdir(parents=True)
    rng = np.random.default_rng(0)
    rows = np.linspace(0, 1, height, dtype=np.float32)[:, None]
    cols = np.linspace(0, 1, width, dtype=np.float32)[None, :]
    paths = []
    for index in range(count):
        phase = rng.uniform(0, 6.28, size=3)
        channels = [127 + 100 * np.sin(7 * rows + 5 * cols * (c + 1) + phase[c]) for c in range(3)]
        noise = rng.normal(0, 8, (height, width, 3)).astype(np.float32)
        pixels = (np.stack(channels, axis=-1) + noise).clip(0, 255).astype(np.uint8)
        path = directory / f"{index:04d}.jpg"
        Image.fromarray(pixels).save(path, quality=90)
        paths.append(path)
    return paths


def _loop(checkpoint: Path, paths: list[Path], threshold: float) -> float:
    """Seconds for a user's loop: load the model, then segment + RLE each image."""
    started = time.perf_counter()
    segmenter = Segmenter.from_pretrained(checkpoint)
    for path in paths:
        for result in segmenter.segment(path, PROMPTS, threshold=threshold):
            result.to_coco_rle()
    return time.perf_counter() - started


def _pipeline(
    checkpoint: Path, paths: list[Path], out: Path, threshold: float, torch_threads: int | None
) -> float:
    """Seconds for ``sam3lib.label`` over a list of ``paths``, from nothing to the dataset."""
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    names = [str(path) for path in paths]
    label(
        names, PROMPTS, out, model=checkpoint, threshold=threshold, torch_threads=torch_threads,
        progress=False,
    )  # fmt: skip
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", choices=("large-jpegs", "full-size"), default="large-jpegs")
    parser.add_argument("--images", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument(
        "--pipeline-torch-threads",
        type=int,
        default=None,
        help="label(torch_threads=...): 1 where decoding dominates",
    )
    parser.add_argument("--json", type=Path)
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # the child's work dir
    args = parser.parse_args()
    if args.measure is not None:
        return _measure(args)
    work = Path(tempfile.mkdtemp(prefix="label_throughput_"))
    config, size = (
        (Sam3Config.tiny(), (3000, 4000))
        if args.case == "large-jpegs"
        else (Sam3Config.sam3(), (720, 1280))
    )
    write_checkpoint(config, random_state_dict(config), work / "model")
    _write_jpegs(work / "images", args.images, *size)
    # Measured in a fresh process: writing the pictures leaves this one's heap full of
    # freed 36 MB buffers, which slowed whichever way ran in it by up to 30 %.
    child = [sys.executable, __file__, "--measure", str(work), "--case", args.case]
    child += ["--rounds", str(args.rounds)] + (
        ["--threads", str(args.threads)] if args.threads else []
    )
    child += ["--json", str(args.json)] if args.json else []
    if args.pipeline_torch_threads:
        child += ["--pipeline-torch-threads", str(args.pipeline_torch_threads)]
    return subprocess.run(child, check=False).returncode


def _measure(args: argparse.Namespace) -> int:
    if args.threads:
        torch.set_num_threads(args.threads)
    work: Path = args.measure
    checkpoint = work / "model"
    paths = sorted((work / "images").glob("*.jpg"))
    threshold = 0.5  # random weights: no instance passes it, so decoding and the model count
    # End to end, model load included in both ways (label() loads its own model); best of
    # the rounds, the two ways alternating so that a drifting machine affects both alike.
    _loop(checkpoint, paths[:2], threshold)  # the process's one-time warm-up, for neither way
    times: dict[str, list[float]] = {"pipeline": [], "loop": []}
    for _ in range(args.rounds):
        times["pipeline"].append(
            _pipeline(checkpoint, paths, work / "out", threshold, args.pipeline_torch_threads)
        )
        times["loop"].append(_loop(checkpoint, paths, threshold))
    loop, pipeline = min(times["loop"]) / len(paths), min(times["pipeline"]) / len(paths)
    with Image.open(paths[0]) as first:
        width, height = first.size
    report = {
        "machine": describe_machine(),
        "case": args.case,
        "images": len(paths),
        "image_size": [height, width],
        "torch_threads": torch.get_num_threads(),
        "pipeline_torch_threads": args.pipeline_torch_threads,
        "seconds": {way: [round(t, 2) for t in runs] for way, runs in times.items()},
        "loop_seconds_per_image": round(loop, 4),
        "pipeline_seconds_per_image": round(pipeline, 4),
        "loop_images_per_second": round(1 / loop, 3),
        "pipeline_images_per_second": round(1 / pipeline, 3),
        "speed_up": round(loop / pipeline, 3),
        "overhead_percent": round(100 * (pipeline - loop) / loop, 2),
    }
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
