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


def _pipeline(checkpoint: Path, paths: list[Path], out: Path, threshold: float) -> float:
    """Seconds for ``sam3lib.label`` over a list of ``paths``, from nothing to the dataset."""
    shutil.rmtree(out, ignore_errors=True)
    started = time.perf_counter()
    names = [str(path) for path in paths]
    label(names, PROMPTS, out, model=checkpoint, threshold=threshold, progress=False)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--case", choices=("large-jpegs", "full-size"), default="large-jpegs")
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="label_throughput_"))
    if args.case == "large-jpegs":
        config, size, threshold = Sam3Config.tiny(), (3000, 4000), 0.1
    else:
        config, size, threshold = Sam3Config.sam3(), (720, 1280), 0.5
    checkpoint = write_checkpoint(config, random_state_dict(config), work / "model")
    paths = _write_jpegs(work / "images", args.images, *size)
    # Per image = (time for all images - time for half of them) / the other half: the fixed
    # costs (model load, weights hash, assembly) cancel out. Alternating the two ways.
    half = paths[: len(paths) // 2]
    times: dict[str, dict[int, list[float]]] = {"loop": {}, "pipeline": {}}
    for _ in range(args.rounds):
        for subset in (half, paths):
            times["loop"].setdefault(len(subset), []).append(_loop(checkpoint, subset, threshold))
            times["pipeline"].setdefault(len(subset), []).append(
                _pipeline(checkpoint, subset, work / "out", threshold)
            )
    per_image = {
        way: (min(by_count[len(paths)]) - min(by_count[len(half)])) / (len(paths) - len(half))
        for way, by_count in times.items()
    }
    loop, pipeline = per_image["loop"], per_image["pipeline"]
    report = {
        "machine": describe_machine(),
        "case": args.case,
        "images": args.images,
        "image_size": list(size),
        "torch_threads": torch.get_num_threads(),
        "seconds": {
            way: {str(n): [round(t, 2) for t in ts] for n, ts in by_count.items()}
            for way, by_count in times.items()
        },
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
