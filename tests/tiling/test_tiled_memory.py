"""Guard for the memory bound (the 20 000 px measurement is benchmarks/tiling_memory.py):
a tiled run never holds a full-size mask or a copy of the image.

tracemalloc sees numpy's allocations, which is where a full-size mask or an image copy would
land; the model's torch tensors are not counted (the oracle stands in for the model here).
"""

from __future__ import annotations

import tracemalloc

import numpy as np

from sam3lib.tiling import TileOptions
from sam3lib.tiling.segment import TiledPrompts, segment_tiles
from sam3lib.tiling.source import TileSource
from tiling.oracle import PixelBackend, blobs, decode_blobs

SIDE = 4000  # a full-size bool mask: 16 MB; the RGB image: 48 MB


def test_a_large_image_is_segmented_without_full_size_arrays() -> None:
    image = np.zeros((SIDE, SIDE, 3), dtype=np.uint8)
    image[100:180, 200:900] = 200  # across three 256 px tiles
    image[1900:2300, 1900:2300] = 150  # across a corner of four
    image[3990:, 3950:] = 250  # the last corner
    options = TileOptions(size=256, overlap=32)
    prompts = TiledPrompts(asked=[("blob", "blob")], boxes=None, box_labels=None, top_k=None)
    tracemalloc.start()
    try:
        source = TileSource(image)
        (result,) = segment_tiles(source, options, prompts, PixelBackend(256), decode_blobs)  # type: ignore[arg-type]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.tiles == 18 * 18
    assert peak < SIDE * SIDE // 4, f"{peak / 2**20:.1f} MB held at once"
    expected = blobs(image)
    assert sorted(result.areas.tolist()) == sorted(int(mask.sum()) for mask in expected)
    assert result.to_coco_rle()  # exports straight from the crops, no full-size masks
