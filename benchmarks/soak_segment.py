"""Soak: many ``Segmenter.segment`` calls in one process, watching its memory for leaks.

Builds a tiny checkpoint with random weights (``Sam3Config.tiny()``, CLIP's real vocabulary
when ``../shared/reference`` is beside the repository), then segments a seeded stream of
varied requests: image sizes from 64x512 to 1080x1920, numpy / PIL / file inputs, one or
several prompts, exemplar boxes with or without text, thresholds, ``top_k``, NMS, refinement,
and a reused ``ImageEmbedding`` now and then. Hundreds of distinct prompts pass through the
256-entry text cache, so it fills and evicts. Reports the resident set size (VmRSS) every
``--every`` calls, its growth after the warm-up, its least-squares slope, and latency p50/p99.

    python benchmarks/soak_segment.py                       # 1000 calls, 2-15 min on 2 cores
    python benchmarks/soak_segment.py --calls 200 --json soak.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image

from sam3lib import Segmenter
from sam3lib.bench.weights import random_state_dict, write_checkpoint
from sam3lib.model import Sam3Config
from sam3lib.tokenizer import write_clip_vocab_files

CLIP_MERGES = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "reference"
    / "clip_bpe_simple_vocab_16e6.txt.gz"
)
MIB = 2**20
# (height, width) of the pictures, and how often each comes up: phone photos and thumbnails
# most, a few full-HD frames (the costliest post-processing) and odd shapes.
IMAGE_SIZES = {
    (120, 160): 3,
    (240, 320): 4,
    (480, 640): 5,
    (600, 800): 3,
    (768, 1024): 2,
    (720, 1280): 2,
    (1080, 1920): 1,
    (900, 900): 1,
    (64, 512): 1,
    (512, 64): 1,
}
COLOURS = ("red", "blue", "green", "white", "black", "yellow", "small", "large", "striped")
THINGS = (
    "car", "dog", "cat", "person", "bicycle", "tree", "window", "cup", "bottle", "chair",
    "sign", "bird", "boat", "shoe", "door", "lamp", "book", "plate", "wheel", "flower",
    "bag", "phone", "horse", "bus", "kite",
)  # fmt: skip
PLACES = ("", " on the left", " in the background", " near the window")
THRESHOLDS = (0.0, 0.05, 0.1, 0.2, 0.5)
# Refinement labels connected components, slow on the random model's speckled masks (tens of
# seconds for 10 masks at 720x1280): kept to pictures up to this many pixels.
REFINE_MAX_PIXELS = 480 * 640


def tiny_checkpoint(directory: Path, seed: int = 0) -> Path:
    """Write ``Sam3Config.tiny()`` with seeded random weights as a checkpoint directory.

    CLIP's vocabulary replaces the byte-level one when the merges file is present, so prompts
    tokenize as they do with the real checkpoint.
    """
    config = Sam3Config.tiny()
    write_checkpoint(config, random_state_dict(config, seed=seed), directory)
    if CLIP_MERGES.is_file():
        write_clip_vocab_files(CLIP_MERGES, directory)
    return directory


def rss_bytes(pid: int | str = "self") -> int:
    """Resident set size (``VmRSS``) of a process, from ``/proc`` (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024  # reported in kB
    raise RuntimeError(f"no VmRSS in /proc/{pid}/status")


def percentile(values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile, ``fraction`` in [0, 1]."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def picture(rng: np.random.Generator, height: int, width: int) -> npt.NDArray[np.uint8]:
    """An (H, W, 3) uint8 picture: a disk and a bar over colour ramps, plus noise."""
    rows, cols = np.ogrid[0:height, 0:width]
    cy, cx, radius = rng.uniform(0.2, 0.8) * height, rng.uniform(0.2, 0.8) * width, height / 5
    disk = ((rows - cy) ** 2 + (cols - cx) ** 2 < radius**2) * 255
    bar = (np.abs(rows - 0.6 * height) < height / 8) * (np.abs(cols - 0.3 * width) < width / 5)
    image = np.empty((height, width, 3), dtype=np.int32)
    image[..., 0] = disk
    image[..., 1] = bar * 255 + cols * 64 // max(width, 1)
    image[..., 2] = (rows + cols) % 256
    image += rng.integers(0, 40, (height, width, 3), dtype=np.int32)
    return np.clip(image, 0, 255).astype(np.uint8)


@dataclass
class Request:
    """One ``segment`` call: what it is given, and a short label for its kind."""

    image: Any
    size: tuple[int, int]  # (height, width)
    prompt: str | list[str] | None
    options: dict[str, Any]
    kind: str
    reuse_embedding: bool = False


def random_box(rng: np.random.Generator, height: int, width: int) -> list[float]:
    x0, y0 = rng.uniform(0, 0.7) * width, rng.uniform(0, 0.7) * height
    x1 = min(width, x0 + rng.uniform(0.1, 0.5) * width + 2)
    y1 = min(height, y0 + rng.uniform(0.1, 0.5) * height + 2)
    return [round(x0, 1), round(y0, 1), round(x1, 1), round(y1, 1)]


def random_prompt(rng: np.random.Generator) -> str:
    """One of 1000 prompts ("car", "red car on the left"...): more than the text cache holds."""
    thing = str(rng.choice(THINGS))
    prompt = thing if rng.random() < 0.4 else f"{rng.choice(COLOURS)} {thing}"
    return prompt + PLACES[int(rng.integers(len(PLACES)))]


def random_options(rng: np.random.Generator, pixels: int) -> dict[str, Any]:
    """Post-processing options as an application varies them: mostly defaults."""
    options: dict[str, Any] = {"threshold": float(rng.choice(THRESHOLDS))}
    if rng.random() < 0.2:
        options["top_k"] = int(rng.integers(1, 6))
    if rng.random() < 0.15:
        options["nms_iou"] = 0.5
    if rng.random() < 0.1 and pixels <= REFINE_MAX_PIXELS:
        options["refine"] = int(rng.integers(1, 4))
    if rng.random() < 0.2:
        options["mask_order"] = "transformers"
    return options


def as_input(
    rng: np.random.Generator, pixels: npt.NDArray[np.uint8], files: Sequence[Path]
) -> tuple[Any, str]:
    """``pixels`` in one of the forms callers pass: array, PIL image (several modes), file."""
    draw = rng.random()
    if draw < 0.45:
        return pixels, "array"
    if draw < 0.65:
        return Image.fromarray(pixels), "pil"
    if draw < 0.75:
        return Image.fromarray(pixels).convert("L"), "pil-gray"
    if draw < 0.8:
        return Image.fromarray(pixels).convert("RGBA"), "pil-rgba"
    if draw < 0.85:
        return pixels.astype(np.float32) / 255, "float-array"
    return files[int(rng.integers(len(files)))], "file"


def requests(rng: np.random.Generator, count: int, files: Sequence[Path]) -> Iterator[Request]:
    """``count`` varied requests, drawn from ``rng`` (files: pictures on disk to pass by path)."""
    sizes = list(IMAGE_SIZES)
    weights = np.array(list(IMAGE_SIZES.values()), dtype=float)
    for _ in range(count):
        height, width = sizes[int(rng.choice(len(sizes), p=weights / weights.sum()))]
        image, kind = as_input(rng, picture(rng, height, width), files)
        if kind == "file":
            with Image.open(image) as opened:
                width, height = opened.size
        prompt: str | list[str] | None = random_prompt(rng)
        options = random_options(rng, height * width)
        draw = rng.random()
        if draw < 0.25:
            prompt = [random_prompt(rng) for _ in range(int(rng.integers(2, 5)))]
        elif draw < 0.45:
            boxes = [random_box(rng, height, width) for _ in range(int(rng.integers(1, 4)))]
            options["boxes"] = boxes
            if rng.random() < 0.5:
                options["box_labels"] = [int(label) for label in rng.integers(0, 2, len(boxes))]
                options["box_labels"][0] = 1
            if draw < 0.33:
                prompt = None  # exemplar boxes alone
        reuse = rng.random() < 0.1
        yield Request(image, (height, width), prompt, options, kind, reuse)


def write_files(rng: np.random.Generator, directory: Path) -> list[Path]:
    """A few PNG and JPEG pictures of various sizes, passed to ``segment`` by path."""
    paths = []
    for index, (height, width) in enumerate([(240, 320), (480, 640), (720, 1280), (300, 200)]):
        image = Image.fromarray(picture(rng, height, width))
        for suffix in (".png", ".jpg"):
            path = directory / f"picture{index}{suffix}"
            image.save(path)
            paths.append(path)
    return paths


@dataclass
class SoakReport:
    """What a soak measured. RSS figures in MiB, latencies in seconds."""

    calls: int
    warmup: int
    every: int
    rss_before_mib: float
    rss_after_warmup_mib: float
    rss_end_mib: float
    rss_peak_mib: float
    growth_after_warmup_pct: float  # end against after warm-up
    floor_growth_after_warmup_pct: float  # lowest of the last window against the first after it
    max_growth_after_warmup_pct: float  # the highest sample after warm-up against after warm-up
    slope_kib_per_call: float  # least-squares slope of RSS after warm-up
    latency_p50_s: float
    latency_p99_s: float
    latency_max_s: float
    instances: int
    kinds: dict[str, int]
    # (calls done, RSS MiB then, lowest RSS MiB of the ``every`` calls up to then)
    curve: list[tuple[int, float, float]] = field(default_factory=list)
    latency_by_size: dict[str, float] = field(default_factory=dict)  # p50 per image size
    slowest: list[str] = field(default_factory=list)  # the 3 slowest calls, described


def soak(
    segmenter: Segmenter,
    stream: Iterator[Request],
    *,
    warmup: int,
    every: int,
    progress: bool = False,
) -> SoakReport:
    """Run every request of ``stream`` on ``segmenter``; RSS sampled after each call.

    ``progress``: print the call count and RSS to stderr every ``every`` calls.
    """
    rss = [rss_bytes()]
    latencies: list[float] = []
    by_size: dict[tuple[int, int], list[float]] = {}
    kinds: dict[str, int] = {}
    instances = 0
    slowest: list[tuple[float, str]] = []
    for request in stream:
        started = time.perf_counter()
        image = segmenter.encode_image(request.image) if request.reuse_embedding else request.image
        answer = segmenter.segment(image, request.prompt, **request.options)
        elapsed = time.perf_counter() - started
        results = answer if isinstance(answer, list) else [answer]
        instances += sum(len(result.scores) for result in results)
        del image, answer, results
        latencies.append(elapsed)
        by_size.setdefault(request.size, []).append(elapsed)
        kinds[request.kind] = kinds.get(request.kind, 0) + 1
        slowest = sorted([*slowest, (elapsed, describe(request))], reverse=True)[:3]
        rss.append(rss_bytes())
        if progress and len(latencies) % every == 0:
            print(f"{len(latencies)} calls, RSS {rss[-1] / MIB:.1f} MiB", file=sys.stderr)
    report = summarize(rss, latencies, by_size, kinds, instances, warmup=warmup, every=every)
    report.slowest = [f"{seconds:.2f} s: {what}" for seconds, what in slowest]
    return report


def describe(request: Request) -> str:
    height, width = request.size
    prompts = request.prompt if isinstance(request.prompt, list) else [request.prompt]
    return f"{height}x{width} {request.kind}, {len(prompts)} prompt(s), {request.options}"


def summarize(
    rss: Sequence[int],
    latencies: Sequence[float],
    by_size: dict[tuple[int, int], list[float]],
    kinds: dict[str, int],
    instances: int,
    *,
    warmup: int,
    every: int,
) -> SoakReport:
    """``rss[i]``: bytes after ``i`` calls (``rss[0]``: before the first)."""
    calls = len(latencies)
    warm = min(warmup, calls)
    after = np.array(rss[warm:], dtype=float)
    slope = float(np.polyfit(np.arange(after.size), after, 1)[0]) if after.size > 1 else 0.0
    measured = latencies[warm:] or latencies
    marks = [*range(0, calls + 1, every), *([calls] if calls % every else [])]
    curve = [(i, rss[i] / MIB, min(rss[max(0, i - every + 1) : i + 1]) / MIB) for i in marks]
    first_floor = min(rss[warm + 1 : warm + every + 1] or rss[warm:])
    last_floor = min(rss[max(warm, calls - every) + 1 :] or rss[-1:])
    return SoakReport(
        calls=calls,
        warmup=warm,
        every=every,
        rss_before_mib=rss[0] / MIB,
        rss_after_warmup_mib=rss[warm] / MIB,
        rss_end_mib=rss[-1] / MIB,
        rss_peak_mib=max(rss) / MIB,
        growth_after_warmup_pct=100 * (rss[-1] - rss[warm]) / rss[warm],
        floor_growth_after_warmup_pct=100 * (last_floor - first_floor) / first_floor,
        max_growth_after_warmup_pct=100 * (max(rss[warm:]) - rss[warm]) / rss[warm],
        slope_kib_per_call=slope / 1024,
        latency_p50_s=percentile(measured, 0.5),
        latency_p99_s=percentile(measured, 0.99),
        latency_max_s=max(measured),
        instances=instances,
        kinds=dict(sorted(kinds.items())),
        curve=curve,
        latency_by_size={
            f"{h}x{w}": percentile(times, 0.5) for (h, w), times in sorted(by_size.items())
        },
    )


def print_report(report: SoakReport) -> None:
    print(f"{report.calls} calls, warm-up {report.warmup}; RSS MiB every {report.every} calls")
    print(f"  {'calls':>6}  {'RSS':>8}  {'lowest':>8} (of the {report.every} calls up to then)")
    for calls, mib, floor in report.curve:
        print(f"  {calls:>6}  {mib:8.1f}  {floor:8.1f}")
    print(
        f"RSS MiB: before {report.rss_before_mib:.1f}, after warm-up "
        f"{report.rss_after_warmup_mib:.1f}, end {report.rss_end_mib:.1f}, "
        f"peak {report.rss_peak_mib:.1f}"
    )
    print(
        f"growth after warm-up: {report.growth_after_warmup_pct:+.2f} % at the end, "
        f"{report.max_growth_after_warmup_pct:+.2f} % at most, lowest of the last "
        f"{report.every} calls {report.floor_growth_after_warmup_pct:+.2f} %; "
        f"slope {report.slope_kib_per_call:+.2f} KiB/call"
    )
    print(
        f"latency after warm-up: p50 {1000 * report.latency_p50_s:.1f} ms, "
        f"p99 {1000 * report.latency_p99_s:.1f} ms, max {1000 * report.latency_max_s:.1f} ms"
    )
    sizes = ", ".join(f"{size} {1000 * s:.0f}" for size, s in report.latency_by_size.items())
    print(f"p50 ms by image size (all calls): {sizes}")
    print(f"inputs: {report.kinds}; instances found: {report.instances}")
    for line in report.slowest:
        print(f"slow: {line}")


def write_json(report: Any, path: Path | None) -> None:
    """Write a report dataclass as JSON to ``path`` ('-': stdout; None: nowhere)."""
    if path is None:
        return
    text = json.dumps(asdict(report), indent=2)
    if str(path) == "-":
        print(text)
    else:
        path.write_text(text + "\n", encoding="utf-8")


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=positive_int, default=1000)
    parser.add_argument(
        "--warmup", type=int, default=100, help="calls before the growth baseline (default 100)"
    )
    parser.add_argument("--every", type=positive_int, default=50, help="RSS curve step in calls")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path, help="also write the report here ('-': stdout)")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    with tempfile.TemporaryDirectory(prefix="soak-") as scratch:
        checkpoint = tiny_checkpoint(Path(scratch) / "checkpoint")
        files = write_files(rng, Path(scratch))
        segmenter = Segmenter.from_pretrained(checkpoint)
        stream = requests(rng, args.calls, files)
        report = soak(segmenter, stream, warmup=args.warmup, every=args.every, progress=True)
    print_report(report)
    write_json(report, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
