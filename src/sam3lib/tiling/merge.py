"""One object per object: detections of neighbouring tiles matched in their overlap, merged.

Two detections from tiles that overlap are the same object when their masks agree inside the
pixels both tiles see (IoU of the two masks restricted to the overlap, at least
``match_iou``); matching is transitive, so an object across four tiles becomes one. A merged
object takes each pixel from the tile that owns it (see :mod:`sam3lib.tiling.grid`): the
tile that saw it farthest from a border. Pixels owned by tiles that did not detect the object
come from whichever detection covers them. The score is the best of the merged detections'
and the box the union of their boxes.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import numpy.typing as npt

from sam3lib.tiling.cropped import CroppedMask
from sam3lib.tiling.grid import Rect, Tile

__all__ = ["Detection", "merge_detections"]


@dataclass(frozen=True, eq=False)
class Detection:
    """One instance found in one tile, in pixels of the whole image.

    Attributes:
        tile: the tile it was found in.
        mask: its mask, cropped.
        box: (4,) float64 xyxy.
        score: its detection score.
    """

    tile: Tile
    mask: CroppedMask
    box: npt.NDArray[np.float64]
    score: float


def merge_detections(detections: Sequence[Detection], match_iou: float) -> list[Detection]:
    """Merge the detections of one prompt across tiles; best score first.

    A merged detection keeps the ``tile`` of its best-scoring part.

    Example:
        >>> from sam3lib.tiling.grid import tile_grid
        >>> from sam3lib.tiling.options import TileOptions
        >>> left, right = tile_grid((10, 30), TileOptions(size=20, overlap=10))
        >>> bar = np.ones((2, 12), dtype=bool)  # columns 9-20 cross both tiles' borders
        >>> parts = [
        ...     Detection(left, CroppedMask(4, 9, bar[:, :11]), np.array([9., 4, 20, 6]), 0.8),
        ...     Detection(right, CroppedMask(4, 10, bar[:, 1:]), np.array([10., 4, 21, 6]), 0.9),
        ... ]
        >>> [(d.mask.rect, d.box.tolist(), d.score) for d in merge_detections(parts, 0.5)]
        [(Rect(top=4, left=9, bottom=6, right=21), [9.0, 4.0, 21.0, 6.0], 0.9)]
    """
    groups = _match(detections, match_iou)
    merged = [_merge(group) for group in groups]
    return sorted(merged, key=lambda detection: -detection.score)


def _match(detections: Sequence[Detection], match_iou: float) -> list[list[Detection]]:
    """Connected groups of detections that match across tiles."""
    parent = list(range(len(detections)))

    def root(index: int) -> int:
        while parent[index] != index:
            parent[index] = parent[parent[index]]
            index = parent[index]
        return index

    by_tile: dict[int, list[int]] = defaultdict(list)
    tiles: dict[int, Tile] = {}
    for index, detection in enumerate(detections):
        by_tile[detection.tile.index].append(index)
        tiles[detection.tile.index] = detection.tile
    for first_tile, second_tile in combinations(sorted(by_tile), 2):
        shared = tiles[first_tile].rect.intersection(tiles[second_tile].rect)
        if shared.empty:
            continue
        firsts = _touching(detections, by_tile[first_tile], shared)
        seconds = _touching(detections, by_tile[second_tile], shared)
        for first in firsts:
            for second in seconds:
                if (
                    _iou_within(detections[first].mask, detections[second].mask, shared)
                    >= match_iou
                ):
                    parent[root(first)] = root(second)
    groups: dict[int, list[Detection]] = defaultdict(list)
    for index, detection in enumerate(detections):
        groups[root(index)].append(detection)
    return list(groups.values())


def _touching(detections: Sequence[Detection], indices: list[int], region: Rect) -> list[int]:
    return [
        index for index in indices if not detections[index].mask.rect.intersection(region).empty
    ]


def _iou_within(first: CroppedMask, second: CroppedMask, region: Rect) -> float:
    """IoU of two masks counting only the pixels inside ``region``."""
    if first.rect.intersection(second.rect).intersection(region).empty:
        return 0.0  # nothing in common where both are seen: no need to look at pixels
    window = first.rect.union(second.rect).intersection(region)
    first_pixels, second_pixels = first.within(window), second.within(window)
    union = np.count_nonzero(first_pixels | second_pixels)
    if union == 0:
        return 0.0
    return np.count_nonzero(first_pixels & second_pixels) / union


def _merge(group: list[Detection]) -> Detection:
    best = max(group, key=lambda detection: detection.score)
    if len(group) == 1:
        return best
    bounds = group[0].mask.rect
    for detection in group[1:]:
        bounds = bounds.union(detection.mask.rect)
    merged = np.zeros((bounds.height, bounds.width), dtype=np.bool_)
    anywhere = np.zeros_like(merged)
    claimed = np.zeros_like(merged)
    for detection in group:
        pixels = detection.mask.within(bounds)
        anywhere |= pixels
        owned = detection.tile.owned.intersection(bounds)
        if not owned.empty:
            rows, columns = owned.slices(bounds)
            merged[rows, columns] |= pixels[rows, columns]
            claimed[rows, columns] = True
    # Pixels owned by tiles that did not see the object: trust whoever did.
    merged |= anywhere & ~claimed
    mask = CroppedMask.from_mask(merged, bounds.top, bounds.left)
    if mask is None:  # every part lay where another tile of the group owned, and missed it
        mask = CroppedMask.from_mask(anywhere, bounds.top, bounds.left)
    assert mask is not None  # the parts are never empty
    boxes = np.stack([detection.box for detection in group])
    box = np.concatenate([boxes[:, :2].min(axis=0), boxes[:, 2:].max(axis=0)])
    return Detection(best.tile, mask, box, best.score)
