"""Full-size video tracking on this CPU: where a frame's time goes, for 1 and 3 objects.

Not part of CI: ``--frames 3`` encodes 8 frames, 18 minutes on two cores busy with other
work (load 6-8; 70-160 s a frame), under 10 on quiet ones (docs/benchmarks.md: ~21 s for
``encode_image``), plus a minute for the checkpoint. The published SAM 3 with
its video memory (``Sam3Config()``: 1008 px, 32-layer ViT, tracker width 256) on random
weights, written as a checkpoint (~3.4 GB, fp32) and loaded by ``Segmenter.from_pretrained``;
frames are random 1280x720 pictures, streamed from a generator.

- Click tracking (``seg.track(frames, points=..., frame=0)``, one click per object on frame
  0) of 1 and of 3 objects over ``--frames`` frames. Per frame: the ViT and both necks
  (``FrameEncoder.encode``); per object, the tracker step (frame 0: the prompted decoder;
  later frames: memory attention + decoder, ``tracked_step``) and the memory encoder
  (``write_memory``); the rest of the frame (its masks at 1280x720, boxes) as ``other``.
  Click tracking has no timings of its own: the functions are wrapped where the click
  tracker looks them up (the library is not changed).
- Steady state: one object's tracker step and memory encoder with a full bank (from the 16th
  frame on: 7 memories, 16 pointers), which the first frames of a run do not reach.
- Text tracking (``seg.track(frames, "person", ...)``) of 2 frames with the thresholds at 0
  and at most 3 objects, so that frame 0's detections start 3 objects and frame 1 tracks
  them: each frame's own timings (encode_image, detect = the detector's decoder on the
  encoded frame, track = every object's tracker step, memory = their memory writes,
  postprocess).

    python benchmarks/video_cost.py --frames 3
    python benchmarks/video_cost.py --frames 3 --threads 2 --json video_cost.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from unittest import mock

import torch

from sam3lib import Segmenter
from sam3lib.bench.machine import describe_machine
from sam3lib.bench.weights import random_state_dict, write_checkpoint
from sam3lib.model import Sam3Config
from sam3lib.video import click_tracking
from sam3lib.video.frame_encoder import FrameEncoder
from sam3lib.video.memory_bank import MemoryBank
from sam3lib.video.tracker_step import prompted_step, tracked_step, write_memory
from video_memory import random_frames, text_config

FRAME_SIZE = (720, 1280)
# What each wrapped function is reported as.
PARTS = {
    "encode": (FrameEncoder, "encode"),
    "step": (click_tracking, "prompted_step"),
    "tracked step": (click_tracking, "tracked_step"),
    "memory": (click_tracking, "write_memory"),
}


class PartTimer:
    """Wall seconds of each call of the wrapped functions, in call order."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float]] = []

    def wrap(self, part: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.calls.append((part, time.perf_counter() - started))

        return timed

    def take(self) -> list[tuple[str, float]]:
        """The calls since the last take."""
        calls, self.calls = self.calls, []
        return calls


def frame_row(
    objects: int, index: int, calls: list[tuple[str, float]], total: float
) -> dict[str, Any]:
    """One frame's split: encode, per-object step and memory (mean over objects), other."""
    seconds: dict[str, list[float]] = {}
    for part, elapsed in calls:
        seconds.setdefault("step" if part == "tracked step" else part, []).append(elapsed)
    timed = sum(elapsed for _, elapsed in calls)
    return {
        "objects": objects,
        "frame": index,
        "encode": sum(seconds.get("encode", [0.0])),
        "step_per_object": statistics.fmean(seconds.get("step", [0.0])),
        "memory_per_object": statistics.fmean(seconds.get("memory", [0.0])),
        "calls": {part: len(values) for part, values in seconds.items()},
        "other": max(total - timed, 0.0),
        "total": total,
    }


def click_run(segmenter: Segmenter, objects: int, frames: int) -> list[dict[str, Any]]:
    """Click tracking of ``objects`` objects over ``frames`` frames: a row per frame."""
    timer = PartTimer()
    height, width = FRAME_SIZE
    clicks = {i: [[width * (i + 1) / (objects + 1), height / 2]] for i in range(objects)}
    rows = []
    with ExitStack() as patches:
        for part, (owner, name) in PARTS.items():
            patches.enter_context(
                mock.patch.object(owner, name, timer.wrap(part, getattr(owner, name)))
            )
        started = time.perf_counter()
        tracking = segmenter.track(random_frames(frames, FRAME_SIZE), points=clicks, frame=0)
        for frame in tracking:  # frame 0 is the prompted one: its work was done by track()
            total = time.perf_counter() - started
            rows.append(frame_row(objects, frame.index, timer.take(), total))
            print(json.dumps(rows[-1]), flush=True)
            started = time.perf_counter()
        tracking.close()
    return rows


def text_run(segmenter: Segmenter, objects: int) -> list[dict[str, Any]]:
    """Text tracking of 2 frames, up to ``objects`` objects: each frame's own timings."""
    rows = []
    tracking = segmenter.track(random_frames(2, FRAME_SIZE), "person", config=text_config(objects))
    for frame in tracking:
        tracked = len(tracking.object_ids)  # shown ones may be fewer (empty masks)
        rows.append({"frame": frame.index, "objects": tracked, **frame.timings})
        print(json.dumps(rows[-1]), flush=True)
    tracking.close()
    return rows


def steady_step(segmenter: Segmenter, repeats: int = 2) -> dict[str, float]:
    """One object's tracker step at full reach, as every frame from the 16th on: a bank of a
    prompted frame and 15 tracked ones, so memory attention reads 7 memories and 16 object
    pointers (the first frames of a run read fewer). The bank repeats one real entry: the
    cost does not depend on the values. Best of ``repeats``."""
    encoder = FrameEncoder(segmenter.backend)
    started = time.perf_counter()
    encoded = encoder.encode(16, next(iter(random_frames(1, FRAME_SIZE))))
    encode = time.perf_counter() - started
    size = encoder.model_size
    coords = torch.tensor([[[size / 2, size / 2], [0.0, 0.0]]])
    labels = torch.tensor([[1, -1]])
    head, features = encoder.head, encoded.tracker
    with encoder.running():
        entry = write_memory(
            head, features, prompted_step(head, features, coords, labels), prompted=True
        )
        bank = MemoryBank().with_frame(0, entry, conditioning=True)
        for frame in range(1, 16):
            bank = bank.with_frame(frame, entry, conditioning=False)
        seconds: dict[str, list[float]] = {"step": [], "memory": []}
        for _ in range(repeats):
            started = time.perf_counter()
            output = tracked_step(head, features, bank, 16, None)
            seconds["step"].append(time.perf_counter() - started)
            started = time.perf_counter()
            write_memory(head, features, output, prompted=False)
            seconds["memory"].append(time.perf_counter() - started)
    row = {"encode": encode, "step": min(seconds["step"]), "memory": min(seconds["memory"])}
    print(json.dumps({"steady": row}), flush=True)
    return row


def print_tables(
    click: list[dict[str, Any]], text: list[dict[str, Any]], steady: dict[str, float]
) -> None:
    print("\nclick tracking, seconds per frame (1280x720 frames, 1008 px model input)")
    print("objects  frame  ViT+necks  step/object  memory enc/object  other   total")
    for row in click:
        print(
            f"{row['objects']:7d}  {row['frame']:5d}  {row['encode']:9.2f}  "
            f"{row['step_per_object']:11.3f}  {row['memory_per_object']:17.3f}  "
            f"{row['other']:5.2f}  {row['total']:6.2f}"
        )
    print("(frame 0: the prompted decoder and its memory; later frames: memory attention +")
    print(" decoder and the memory encoder, per object)")
    print("\ntext tracking, seconds per frame (TrackedFrame.timings)")
    print("frame  tracked  encode_image  detect   track  memory  postprocess")
    for row in text:
        print(
            f"{row['frame']:5d}  {row['objects']:7d}  {row['encode_image']:12.2f}  "
            f"{row['detect']:6.2f}  {row['track']:6.3f}  {row['memory']:6.3f}  "
            f"{row['postprocess']:11.3f}"
        )
    print("(frame 0: detections start the objects, memory = their mask prompts; frame 1:")
    print(" track and memory cover every object)")
    print("\nsteady state, one object (7 memories, 16 pointers read), seconds")
    print(
        f"ViT+necks {steady['encode']:.2f}  tracker step {steady['step']:.3f}  "
        f"memory encoder {steady['memory']:.3f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=3, help="frames per click-tracking run")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    parser.add_argument(
        "--tiny", action="store_true", help="the tiny architecture: checks the script in seconds"
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.tiny:
        sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
        from helpers.video_checkpoint import tiny_video_config

        config = tiny_video_config()
    else:
        config = Sam3Config()
    with tempfile.TemporaryDirectory(prefix="video_cost_") as scratch:
        started = time.perf_counter()
        checkpoint = write_checkpoint(config, random_state_dict(config), Path(scratch))
        segmenter = Segmenter.from_pretrained(checkpoint)
        print(f"checkpoint written and loaded in {time.perf_counter() - started:.0f} s")
        click = [row for n in (1, 3) for row in click_run(segmenter, n, args.frames)]
        text = text_run(segmenter, 3)
        steady = steady_step(segmenter)
    print_tables(click, text, steady)
    if args.json:
        report = {
            "machine": describe_machine(),
            "click": click,
            "text": text,
            "steady": steady,
        }
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
