"""Labelling memory does not grow with the dataset, and each image holds what segment finds.

Not part of CI (a few minutes). Writes N generated pictures (default 1000, 64-100 px, a
bright disk on noise) and a tiny random checkpoint, then runs ``sam3lib.label`` over them in
this process while a sampler records the resident set size; the peak RSS once 100 images
are done and the peak at the end are reported with their ratio (the issue's bound: within
10 %). Then every image is segmented again with ``Segmenter.segment`` and compared with its
entries in ``annotations.json``: RLE, score and box must be identical.

    python benchmarks/label_memory.py --images 1000 --json label_memory.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from rss import RssSampler
from sam3lib import Segmenter, label
from sam3lib.bench.machine import describe_machine
from sam3lib.bench.weights import random_state_dict, write_checkpoint
from sam3lib.model import Sam3Config

PROMPTS = ["cat", "red car"]
THRESHOLD = 0.1  # random weights score around 0.2: a low threshold gives instances to keep


def _write_pictures(directory: Path, count: int) -> list[Path]:
    rng = np.random.default_rng(0)
    paths = []
    for index in range(count):
        height, width = 64 + index % 37, 72 + index % 29
        rows, cols = np.mgrid[0:height, 0:width]
        centre = rng.integers(16, 48, size=2)
        disk = (rows - centre[0]) ** 2 + (cols - centre[1]) ** 2 < 14**2
        pixels = rng.integers(0, 60, (height, width, 3)) + 180 * disk[..., None]
        path = directory / f"{index:05d}.png"
        Image.fromarray(pixels.clip(0, 255).astype(np.uint8)).save(path)
        paths.append(path)
    return paths


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--early", type=int, default=100, help="the first measurement point")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--skip-check", action="store_true", help="no per-image comparison")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="label_memory_"))
    config = Sam3Config.tiny()
    checkpoint = write_checkpoint(config, random_state_dict(config), work / "tiny")
    (work / "pictures").mkdir()
    paths = _write_pictures(work / "pictures", args.images)
    sampler = RssSampler()
    early_peak: list[int] = []

    def source() -> Iterator[str]:
        for position, path in enumerate(paths):
            if position == args.early:
                early_peak.append(sampler.peak)
            yield str(path)

    started = time.perf_counter()
    summary = label(
        source(), PROMPTS, work / "out", model=checkpoint, threshold=THRESHOLD, progress=True
    )
    seconds = time.perf_counter() - started
    sampler.stop()
    report = {
        "machine": describe_machine(),
        "images": summary.images,
        "instances": summary.instances,
        "seconds": round(seconds, 1),
        "peak_rss_mb_at_early": round(early_peak[0] / 2**20, 1),
        "peak_rss_mb_at_end": round(sampler.peak / 2**20, 1),
        "ratio": round(sampler.peak / early_peak[0], 4),
        "early": args.early,
    }
    if not args.skip_check:
        report["identical_to_segment"] = _check(checkpoint, paths, work / "out")
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if report.get("identical_to_segment", True) and report["ratio"] <= 1.10 else 1


def _check(checkpoint: Path, paths: list[Path], out: Path) -> bool:
    segmenter = Segmenter.from_pretrained(checkpoint)
    dataset = json.loads((out / "annotations.json").read_text())
    by_image: dict[int, list[dict[str, object]]] = {}
    for annotation in dataset["annotations"]:
        by_image.setdefault(annotation["image_id"], []).append(annotation)
    for image, path in zip(dataset["images"], paths, strict=True):
        assert image["file_name"] == str(path)
        results = segmenter.segment(path, PROMPTS, threshold=THRESHOLD)
        expected = [
            (category, r.to_coco_rle()[i], float(r.scores[i]))
            for category, r in enumerate(results, start=1)
            for i in range(len(r))
        ]
        found = [
            (a["category_id"], a["segmentation"], a["score"]) for a in by_image.get(image["id"], [])
        ]
        if found != expected:
            print(f"differs: {path}", file=sys.stderr)
            return False
    return True


if __name__ == "__main__":
    raise SystemExit(main())
