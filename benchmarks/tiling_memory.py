"""Tiled segmentation of a 20 000 x 20 000 image: peak memory, and objects back once.

Not part of CI (a few minutes, 1.2 GB of pixels). Two runs in one process, each measured from
a baseline taken with the image and the model already in memory (the peak resident set size
above that baseline is what tiling itself costs):

1. ``blobs``: the tiling code (cutting, encoding, mapping back, matching, merging) with a
   per-tile segmenter whose answer is known, every bright blob of a tile
   (tests/tiling/oracle.py). The image holds a few objects, several across tile borders and
   one across a corner of four tiles; afterwards every object must come back exactly once,
   pixel for pixel (compared with the blobs of the whole image, one object at a time).
2. ``tiny-sam3``: ``Segmenter.segment(image, prompt, tiles=...)`` with the tiny SAM 3
   architecture on random weights (its input is 168 px: each 1008 px tile is encoded at 168).

Each run is warmed up first on a corner of the image (allocator pools, lazy kernels), so the
baseline holds what any second call would find. The bound checked: tiling costs less above
that baseline than one full-size bool mask of the image (381 MiB at 20 000 px): masks are held
as crops, tiles are cut one batch at a time, the image is never copied whole.

    python benchmarks/tiling_memory.py --side 20000 --json tiling_memory.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import numpy.typing as npt

from rss import RssSampler, rss_bytes
from sam3lib import Segmenter
from sam3lib.bench.machine import describe_machine
from sam3lib.bench.weights import random_state_dict, write_checkpoint
from sam3lib.model import Sam3Config
from sam3lib.tiling import TiledSegmentationResult, TileOptions, tile_grid
from sam3lib.tiling.segment import TiledPrompts, segment_tiles
from sam3lib.tiling.source import TileSource

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from tiling.oracle import DARK, PixelBackend, decode_blobs

TILE, OVERLAP = 1008, 128
OPTIONS = TileOptions(size=TILE, overlap=OVERLAP, progress=True)


def draw_scene(side: int) -> tuple[npt.NDArray[np.uint8], list[tuple[slice, slice]]]:
    """A dark image with six objects placed against the tile grid: across a vertical and a
    horizontal border, through three tiles, on a corner of four tiles, wholly inside an
    overlap, and in the image's last corner. Returns the image and each object's region."""
    columns = sorted({(t.rect.left, t.rect.right) for t in tile_grid((side, side), OPTIONS)})
    if len(columns) < 4:
        raise SystemExit("--side must give at least 4 tiles a side")
    first, second, third, fourth = columns[:4]
    middle = side // 2
    regions = [
        (slice(300, 390), slice(second[0] - 200, first[1] + 200)),  # across a vertical border
        (slice(second[0] - 150, first[1] + 150), slice(middle, middle + 90)),  # a horizontal
        (slice(middle, middle + 12), slice(first[1] - 300, third[1] + 50)),  # three tiles
        (slice(fourth[0] + 10, third[1] - 10), slice(fourth[0] + 10, third[1] - 10)),  # overlap
        (slice(side - 100, side), slice(side - 100, side)),  # the last corner
    ]
    # Dark noise, not zeros: every page of the image is then really in memory.
    image = np.random.default_rng(0).integers(0, DARK + 1, (side, side, 3), dtype=np.uint8)
    for value, (rows, cols) in zip((200, 180, 160, 220, 240), regions, strict=True):
        image[rows, cols] = value
    # A disc on the corner where four tiles meet, in the middle of their overlap.
    corner = (first[1] + second[0]) // 2
    box = (slice(corner - 150, corner + 150), slice(corner - 150, corner + 150))
    rows, cols = np.ogrid[-150:150, -150:150]
    image[box][rows**2 + cols**2 < 140**2] = 250
    return image, [*regions, box]


def measure(run: object) -> tuple[object, dict[str, float]]:
    baseline = rss_bytes()
    sampler = RssSampler()
    started = time.perf_counter()
    result = run()  # type: ignore[operator]
    seconds = time.perf_counter() - started
    sampler.stop()
    return result, {
        "seconds": round(seconds, 1),
        "baseline_rss_mb": round(baseline / 2**20, 1),
        "peak_rss_mb": round(sampler.peak / 2**20, 1),
        "peak_above_baseline_mb": round((sampler.peak - baseline) / 2**20, 1),
    }


def objects_back_once(
    result: TiledSegmentationResult,
    image: npt.NDArray[np.uint8],
    regions: list[tuple[slice, slice]],
) -> bool:
    """Each drawn object is one instance whose crop is exactly the object's pixels."""
    if len(result) != len(regions):
        print(f"{len(result)} instances for {len(regions)} objects", file=sys.stderr)
        return False
    for rows, cols in regions:
        expected = image[rows, cols].max(axis=2) > DARK
        matches = [
            crop
            for crop in result.crops
            if crop.rect.top == rows.start + int(np.flatnonzero(expected.any(axis=1))[0])
            and crop.rect.left == cols.start + int(np.flatnonzero(expected.any(axis=0))[0])
        ]
        trimmed = expected[np.ix_(expected.any(axis=1), expected.any(axis=0))]
        if len(matches) != 1 or not np.array_equal(matches[0].pixels, trimmed):
            print(f"object at {rows}, {cols} not back exactly once", file=sys.stderr)
            return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--side", type=int, default=20_000)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    image, regions = draw_scene(args.side)
    image_mb = image.nbytes / 2**20
    prompts = TiledPrompts(asked=[("blob", "blob")], boxes=None, box_labels=None, top_k=None)
    corner = np.ascontiguousarray(image[: 2 * TILE, : 2 * TILE])

    def run_blobs(pixels: npt.NDArray[np.uint8]) -> TiledSegmentationResult:
        backend = PixelBackend(TILE)
        return segment_tiles(TileSource(pixels), OPTIONS, prompts, backend, decode_blobs)[0]  # type: ignore[arg-type]

    run_blobs(corner)
    blobs, blob_memory = measure(lambda: run_blobs(image))
    assert isinstance(blobs, TiledSegmentationResult)
    report: dict[str, object] = {
        "machine": describe_machine(),
        "image": f"{args.side}x{args.side} RGB, {image_mb:.0f} MB",
        "tiles": blobs.tiles,
        "blobs": {**blob_memory, "instances": len(blobs)},
    }
    report["blobs_back_once"] = objects_back_once(blobs, image, regions)  # type: ignore[index]
    work = Path(tempfile.mkdtemp(prefix="tiling_memory_"))
    config = Sam3Config.tiny()
    segmenter = Segmenter.from_pretrained(write_checkpoint(config, random_state_dict(config), work))
    segmenter.segment(corner, "building", threshold=0.2, tiles=OPTIONS)
    tiny, tiny_memory = measure(
        lambda: segmenter.segment(image, "building", threshold=0.2, tiles=OPTIONS)
    )
    assert isinstance(tiny, TiledSegmentationResult)
    report["tiny-sam3"] = {**tiny_memory, "instances": len(tiny)}
    worst = max(blob_memory["peak_above_baseline_mb"], tiny_memory["peak_above_baseline_mb"])
    full_mask_mb = args.side**2 / 2**20
    report["bound_mb"] = round(full_mask_mb, 1)
    report["within_bound"] = worst < full_mask_mb
    print(json.dumps(report, indent=2))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if report["within_bound"] and report["blobs_back_once"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
