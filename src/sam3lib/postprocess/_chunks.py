"""Splitting a batch of masks into chunks of bounded size, to bound peak memory."""

from __future__ import annotations

from collections.abc import Iterator

# Default budget: 2**25 elements, 128 MB of float32 per chunk (33 masks at 1008²).
CHUNK_PIXELS = 1 << 25


def chunks(count: int, pixels_per_mask: int, max_chunk_pixels: int) -> Iterator[slice]:
    """Slices over ``count`` masks, each covering at most ``max_chunk_pixels`` (at least one)."""
    step = max(1, max_chunk_pixels // max(1, pixels_per_mask))
    for start in range(0, count, step):
        yield slice(start, start + step)
