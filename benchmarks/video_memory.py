"""Streaming video tracking keeps memory flat: peak RSS over a 300-frame stream, tiny checkpoint.

Not part of CI (a few minutes on two cores); tests/video/test_video_memory_guard.py runs a
short version of it. The tiny architecture with a 32-channel video memory, so that it can
track (tests/helpers/video_checkpoint.py), on seeded random weights. Frames come from a
generator of random (3, H, W) uint8 pictures: an iterator source, read once, nothing
preloaded. Two modes, each run in its own process so that the peak resident set size is that
run's alone:

- ``text``: ``seg.track(frames, "person", config=...)`` with the score thresholds at 0, NMS
  and hot start off, so that the first frame's detections are born (up to ``--objects``) and
  tracked to the end, and re-conditioning on every 4th frame, so that conditioning frames
  come and go (random weights confirm no track under Meta's defaults);
- ``click``: ``seg.track(frames, points={1: ..., 2: ..., ...}, frame=0)``, one click each.

Every ``--every`` frames: the process's peak resident set size (``ru_maxrss``), its resident
set size now, the objects tracked, and the largest memory bank an object holds now
(conditioning + tracked frames; checked on every frame, the largest ever is reported too).
The bound checked: the peak after the last frame is within ``--max-ratio`` (5 %) of the peak
at the first checkpoint (frame 50).

    python benchmarks/video_memory.py
    python benchmarks/video_memory.py --mode click --frames 60 --every 20 --json click.json
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from rss import rss_bytes
from sam3lib import Segmenter
from sam3lib.bench.machine import describe_machine
from sam3lib.bench.weights import random_state_dict, write_checkpoint
from sam3lib.video import TrackingConfig, VideoTracking
from sam3lib.video.memory_bank import MemoryBank
from sam3lib.video.text_tracking import TextTracker

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from helpers.video_checkpoint import tiny_video_config

MODES = ("text", "click")
MIB = 2**20


def text_config(max_objects: int) -> TrackingConfig:
    """Every detection of the first frame is born (up to ``max_objects``) and no track is
    ever removed; frames 0, 4, 8, ... re-condition the tracks a detection overlaps."""
    return TrackingConfig(
        detection_score_threshold=0.0,
        nms_iou_threshold=0.0,
        new_object_score=0.0,
        max_objects=max_objects,
        hotstart_frames=0,
        hotstart_unmatched_frames=0,
        hotstart_duplicate_frames=0,
        recondition_every=4,
        recondition_detection_score=0.0,
        recondition_iou=0.0,
        recondition_object_logit=-1e6,
    )


def random_frames(count: int, size: tuple[int, int], seed: int = 0) -> Iterator[torch.Tensor]:
    """``count`` random (3, H, W) uint8 frames, drawn one at a time as they are asked for."""
    generator = torch.Generator().manual_seed(seed)
    for _ in range(count):
        yield torch.randint(0, 256, (3, *size), dtype=torch.uint8, generator=generator)


def start(segmenter: Segmenter, mode: str, frames: Iterator[torch.Tensor], objects: int,
          size: tuple[int, int]) -> VideoTracking:  # fmt: skip
    """A text-prompted or a click-prompted tracking of the stream (nothing runs yet)."""
    if mode == "text":
        return segmenter.track(frames, "person", config=text_config(objects))
    height, width = size
    clicks = {
        object_id: [[width * (object_id + 1) / (objects + 1), height / 2]]
        for object_id in range(objects)
    }
    return segmenter.track(frames, points=clicks, frame=0)


def memory_banks(tracking: VideoTracking) -> list[MemoryBank]:
    """Each tracked object's memory bank as it is now."""
    tracker = tracking.tracker
    if isinstance(tracker, TextTracker):
        return list(tracker._banks.values())
    return [state.bank for state in tracker._objects.values()]


def largest_bank(tracking: VideoTracking) -> dict[str, int]:
    """The most conditioning, tracked and all frames any one object's bank holds now, and
    (click tracking) the most frames whose low-resolution logits an object keeps."""
    banks = memory_banks(tracking)
    tracker = tracking.tracker
    logits = [] if isinstance(tracker, TextTracker) else tracker._objects.values()
    return {
        "conditioning": max((len(b.conditioning) for b in banks), default=0),
        "tracked": max((len(b.tracked) for b in banks), default=0),
        "frames": max((len(b.conditioning) + len(b.tracked) for b in banks), default=0),
        "logits": max((len(state.logits) for state in logits), default=0),
    }


def peak_rss_bytes() -> int:
    """The largest resident set size this process has had (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def run_mode(args: argparse.Namespace) -> dict[str, Any]:
    """Streams ``args.frames`` frames through one mode in this process and measures it."""
    if args.threads:
        torch.set_num_threads(args.threads)
    size = (args.height, args.width)
    config = tiny_video_config()
    with tempfile.TemporaryDirectory(prefix="video_memory_") as scratch:
        checkpoint = write_checkpoint(config, random_state_dict(config), Path(scratch))
        segmenter = Segmenter.from_pretrained(checkpoint)
    frames = random_frames(args.frames, size)
    tracking = start(segmenter, args.mode, frames, args.objects, size)
    rows: list[dict[str, Any]] = []
    largest_ever = dict.fromkeys(("conditioning", "tracked", "frames", "logits"), 0)
    started = time.perf_counter()
    count = 0
    for frame in tracking:
        count += 1
        largest = largest_bank(tracking)
        largest_ever = {key: max(value, largest[key]) for key, value in largest_ever.items()}
        if count % args.every == 0 or count == args.frames:
            rows.append(
                {
                    "frame": count,
                    "seconds": round(time.perf_counter() - started, 1),
                    "peak_rss_mib": round(peak_rss_bytes() / MIB, 1),
                    "rss_mib": round(rss_bytes() / MIB, 1),
                    "objects_tracked": len(tracking.object_ids),
                    "objects_shown": len(frame.object_ids),
                    "largest_bank": largest,
                }
            )
    tracking.close()
    return {
        "mode": args.mode,
        "frames": count,
        "frame_size": list(size),
        "rows": rows,
        "largest_bank_ever": largest_ever,
        "peak_ratio": round(rows[-1]["peak_rss_mib"] / rows[0]["peak_rss_mib"], 4),
    }


def print_table(report: dict[str, Any]) -> None:
    print(f"\n{report['mode']} tracking, {report['frames']} frames of {report['frame_size']}")
    print("frame  seconds  peak RSS MiB  RSS MiB  objects  largest bank (cond + tracked)")
    for row in report["rows"]:
        bank = row["largest_bank"]
        print(
            f"{row['frame']:5d}  {row['seconds']:7.1f}  {row['peak_rss_mib']:12.1f}  "
            f"{row['rss_mib']:7.1f}  {row['objects_tracked']:7d}  "
            f"{bank['conditioning']} + {bank['tracked']}"
        )
    first, last = report["rows"][0]["frame"], report["rows"][-1]["frame"]
    print(f"peak@{last} / peak@{first} = {report['peak_ratio']:.4f}")


def run_in_child(mode: str, args: argparse.Namespace) -> dict[str, Any]:
    """One mode in a fresh process (its own peak RSS); its report."""
    with tempfile.TemporaryDirectory(prefix="video_memory_") as scratch:
        out = Path(scratch) / f"{mode}.json"
        command = [sys.executable, __file__, "--mode", mode, "--json", str(out)]
        for name in ("frames", "every", "objects", "height", "width", "threads"):
            if getattr(args, name) is not None:
                command += [f"--{name}", str(getattr(args, name))]
        finished = subprocess.run(command, check=False)
        if finished.returncode not in (0, 1):  # 1: measured, outside the bound
            raise SystemExit(f"the {mode} run failed (exit code {finished.returncode})")
        report: dict[str, Any] = json.loads(out.read_text())
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=MODES, help="one mode, in this process (default: both)")
    parser.add_argument("--frames", type=int, default=300)
    parser.add_argument("--every", type=int, default=50, help="frames between measurements")
    parser.add_argument("--objects", type=int, default=3)
    parser.add_argument("--height", type=int, default=180)
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument("--max-ratio", type=float, default=1.05)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.mode is not None:
        report = run_mode(args)
        print_table(report)
        if args.json:
            args.json.write_text(json.dumps(report, indent=2) + "\n")
        return 0 if report["peak_ratio"] <= args.max_ratio else 1
    reports = {mode: run_in_child(mode, args) for mode in MODES}
    summary = {
        "machine": describe_machine(),
        **reports,
        "max_ratio": args.max_ratio,
        "within_bound": all(r["peak_ratio"] <= args.max_ratio for r in reports.values()),
    }
    print()
    for mode, report in reports.items():
        objects = report["rows"][-1]["objects_tracked"]
        print(
            f"{mode}: peak ratio {report['peak_ratio']:.4f}, {objects} objects tracked, "
            f"largest bank ever {report['largest_bank_ever']}"
        )
    print(f"within {args.max_ratio}: {summary['within_bound']}")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2) + "\n")
    return 0 if summary["within_bound"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
