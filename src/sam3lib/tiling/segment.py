"""Tiled concept segmentation: cut, encode, decode each tile, map back, merge.

Tiles are cut one batch at a time (:class:`~sam3lib.tiling.source.TileSource`), resized to
the model input and encoded together; each tile's prompts are decoded through the same
function untiled images go through, so a tile's instances are exactly what ``segment`` gives
for that tile. Masks leave each tile as crops (:class:`~sam3lib.tiling.CroppedMask`) in image
coordinates and are merged per prompt (:mod:`sam3lib.tiling.merge`). Memory holds the image,
one batch of tiles and the crops.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from tqdm.auto import tqdm

from sam3lib.backends import Backend
from sam3lib.embedding import ImageEmbedding, encode_resized
from sam3lib.errors import InputError
from sam3lib.preprocess import resize_uint8
from sam3lib.prompts import Exemplars, exemplars
from sam3lib.result import SegmentationResult
from sam3lib.tiling.cropped import CroppedMask
from sam3lib.tiling.grid import Tile, tile_grid
from sam3lib.tiling.merge import Detection, merge_detections
from sam3lib.tiling.options import TileOptions
from sam3lib.tiling.result import TiledSegmentationResult
from sam3lib.tiling.source import TileSource

__all__ = ["TiledPrompts", "segment_tiles"]

#: Decodes an encoded tile with its exemplars (or none): one result per prompt, at tile size.
DecodeTile = Callable[[ImageEmbedding, Exemplars | None], list[SegmentationResult]]


@dataclass(frozen=True)
class TiledPrompts:
    """What is asked of every tile.

    Attributes:
        asked: (prompt, query) per result; ``[(None, None)]`` for exemplar boxes only.
        boxes: (M, 4) float64 exemplar boxes, xyxy pixels of the image (checked), or None.
        box_labels: (M,) int64, 1 positive, 0 negative, or None.
        top_k: keep at most this many instances per prompt, after merging.
    """

    asked: list[tuple[str | None, str | None]]
    boxes: npt.NDArray[np.float64] | None
    box_labels: npt.NDArray[np.int64] | None
    top_k: int | None


def segment_tiles(
    source: TileSource,
    options: TileOptions,
    prompts: TiledPrompts,
    backend: Backend,
    decode: DecodeTile,
) -> list[TiledSegmentationResult]:
    """Segment ``source`` tile by tile; one result per entry of ``prompts.asked``.

    Raises:
        InputError: an exemplar box fits inside no tile.
    """
    tiles = tile_grid(source.size, options)
    routed = _route_exemplars(tiles, prompts, options)
    text_prompted = prompts.asked[0][0] is not None
    # Without text, a tile holding no exemplar box has nothing to look for.
    work = [tile for tile in tiles if text_prompted or tile.index in routed]
    model_size = backend.config.vision.image_size
    detections: list[list[Detection]] = [[] for _ in prompts.asked]
    timings: list[dict[str, float]] = [defaultdict(float) for _ in prompts.asked]
    hidden = None if options.progress is None else not options.progress  # None: terminals only
    with tqdm(total=len(work), desc="tiles", unit="tile", disable=hidden) as bar:
        for start in range(0, len(work), options.batch_size):
            batch = work[start : start + options.batch_size]
            for tile, embedding in zip(
                batch, _encode(source, batch, backend, model_size), strict=True
            ):
                results = decode(embedding, routed.get(tile.index))
                for index, result in enumerate(results):
                    detections[index].extend(_detections(tile, result))
                    for stage, seconds in result.timings.items():
                        timings[index][stage] += seconds
                bar.update()
    return [
        _merged(
            prompt, query, found, stage_timings, source.size, len(tiles), options, prompts.top_k
        )
        for (prompt, query), found, stage_timings in zip(
            prompts.asked, detections, timings, strict=True
        )
    ]


def _encode(
    source: TileSource, batch: Sequence[Tile], backend: Backend, model_size: int
) -> list[ImageEmbedding]:
    resized, stages = [], []
    for tile in batch:
        started = time.perf_counter()
        resized.append(resize_uint8(source.crop(tile.rect), model_size))
        stages.append({"preprocess": time.perf_counter() - started})
    sizes = [(tile.rect.height, tile.rect.width) for tile in batch]
    return encode_resized(backend, resized, sizes, stages)


def _route_exemplars(
    tiles: Sequence[Tile], prompts: TiledPrompts, options: TileOptions
) -> dict[int, Exemplars]:
    """Each tile's exemplars: the boxes lying wholly inside it, in its pixels."""
    if prompts.boxes is None or prompts.box_labels is None:
        return {}
    inside = np.array(
        [[tile.rect.contains_box(*box) for tile in tiles] for box in prompts.boxes.tolist()]
    )
    for index, box in enumerate(prompts.boxes.tolist()):
        if not inside[index].any():
            raise InputError(
                f"boxes[{index}]: {box} fits inside no tile ({options.size} px tiles overlapping "
                f"by {options.overlap} px); an exemplar must lie wholly in a tile: raise "
                "tiles.size or tiles.overlap"
            )
    routed = {}
    for column, tile in enumerate(tiles):
        chosen = inside[:, column]
        if chosen.any():
            offset = np.array([tile.rect.left, tile.rect.top] * 2, dtype=np.float64)
            routed[tile.index] = exemplars(
                prompts.boxes[chosen] - offset,
                prompts.box_labels[chosen],
                (tile.rect.height, tile.rect.width),
            )
    return routed


def _detections(tile: Tile, result: SegmentationResult) -> list[Detection]:
    offset = np.array([tile.rect.left, tile.rect.top] * 2, dtype=np.float64)
    found = []
    for mask, box, score in zip(result.masks, result.boxes, result.scores.tolist(), strict=True):
        crop = CroppedMask.from_mask(mask, tile.rect.top, tile.rect.left)
        if crop is not None:  # an empty mask cannot be matched or merged: nothing to keep
            found.append(Detection(tile, crop, box.astype(np.float64) + offset, score))
    return found


def _merged(
    prompt: str | None,
    query: str | None,
    found: list[Detection],
    timings: dict[str, float],
    image_size: tuple[int, int],
    tile_count: int,
    options: TileOptions,
    top_k: int | None,
) -> TiledSegmentationResult:
    started = time.perf_counter()
    merged = merge_detections(found, options.match_iou)[:top_k]
    timings["merge"] = time.perf_counter() - started
    return TiledSegmentationResult(
        crops=tuple(detection.mask for detection in merged),
        boxes=np.array([d.box for d in merged], dtype=np.float32).reshape(-1, 4),
        scores=np.array([d.score for d in merged], dtype=np.float32),
        prompt=prompt,
        image_size=image_size,
        tiles=tile_count,
        timings=dict(timings),
        query=query,
    )
