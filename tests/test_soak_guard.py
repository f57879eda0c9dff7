"""Many ``segment`` calls in one process keep memory flat: a short guard against leaks.

``benchmarks/soak_segment.py`` is the long version (1000 calls, latency, a report); this runs
150 varied calls on the tiny checkpoint and compares the resident set size of the two halves
after a warm-up. Each half is summarized by its lowest sample (its floor): a call on a larger
image leaves freed memory in the C allocator's heaps for a while, which lifts single samples
by tens of MiB but not the floor, while anything kept per call raises every later sample.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sam3lib import Segmenter

CALLS = 150
WARMUP = 50
# The floors of the two halves moved by -1.0 to +0.5 MiB over 11 runs (seeds, a pytest session
# with other tests). Keeping each call's results (~0.5 MiB of masks) grew them by 26-29 MiB;
# keeping only each decode's (P, 10, 48, 48) float32 mask logits (~0.1 MiB) by 5-8 MiB.
MAX_FLOOR_GROWTH_MIB = 3.0
SIZES = [(120, 160), (240, 320), (200, 300), (96, 400), (320, 240)]
THINGS = ["car", "dog", "cat", "tree", "cup", "chair", "bird", "boat", "door", "lamp", "bag"]
MIB = 2**20


def rss_bytes() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def call(segmenter: Segmenter, rng: np.random.Generator) -> object:
    """One varied call: image size, prompts (some over the text cache), boxes, options."""
    height, width = SIZES[int(rng.integers(len(SIZES)))]
    image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    prompt: str | list[str] = f"{rng.choice(['red', 'big', 'old'])} {rng.choice(THINGS)}"
    options: dict[str, Any] = {"threshold": float(rng.choice([0.0, 0.1]))}
    draw = rng.random()
    if draw < 0.2:
        prompt = [str(rng.choice(THINGS)) for _ in range(2)]
    elif draw < 0.4:
        options["boxes"] = [[10, 10, width // 2, height // 2], [5, 20, width - 5, height - 1]]
    if rng.random() < 0.2:
        options["top_k"] = 3
    return segmenter.segment(image, prompt, **options)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/status")
def test_resident_memory_stays_flat_over_many_calls(tiny_checkpoint_dir: Path) -> None:
    # A small text cache, so that the 33 prompts also evict during the warm-up.
    segmenter = Segmenter.from_pretrained(tiny_checkpoint_dir, text_cache_size=8)
    rng = np.random.default_rng(0)
    rss = []
    for _ in range(CALLS):
        call(segmenter, rng)
        rss.append(rss_bytes())
    half = (CALLS - WARMUP) // 2
    first, second = rss[WARMUP : WARMUP + half], rss[WARMUP + half :]
    growth_mib = (min(second) - min(first)) / MIB
    curve = ", ".join(f"{value / MIB:.0f}" for value in rss[::10])
    assert growth_mib <= MAX_FLOOR_GROWTH_MIB, f"RSS floor grew {growth_mib:.1f} MiB: {curve}"
