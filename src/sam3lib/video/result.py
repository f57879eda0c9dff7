"""One frame of a tracked video: which objects are on it, their masks, boxes and scores.

:class:`TrackedFrame` holds plain numpy arrays at the video's resolution, like
:class:`~sam3lib.result.SegmentationResult` does for an image; object ids are stable across
the video (the same object keeps its id on every frame it appears on).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

from sam3lib.errors import InputError
from sam3lib.formats import encode_rle

__all__ = ["TrackedFrame"]


@dataclass(frozen=True, eq=False, repr=False)
class TrackedFrame:
    """The objects shown on one frame.

    Attributes:
        index: the frame's position in the video (0-based).
        object_ids: (K,) int64 stable ids, increasing.
        masks: (K, H, W) bool, at the video's resolution; objects do not overlap where the
            tracker resolved overlaps (text tracking), they may with click tracking.
        boxes: (K, 4) float32 xyxy pixel edges around each mask.
        scores: (K,) float32: the detection score an object was found with (text tracking),
            or σ(the tracker's object-score logit) on this frame (click tracking).
        image_size: (H, W) of the frame.
        timings: seconds spent on this frame per stage (read-only).

    Raises:
        InputError: the arrays disagree on K, or the masks are not ``image_size``.

    Example:
        >>> masks = np.zeros((1, 4, 6), dtype=bool)
        >>> masks[0, 1:3, 2:5] = True
        >>> frame = TrackedFrame(
        ...     index=7,
        ...     object_ids=np.array([3]),
        ...     masks=masks,
        ...     boxes=np.array([[2, 1, 5, 3]], dtype=np.float32),
        ...     scores=np.array([0.9], dtype=np.float32),
        ...     image_size=(4, 6),
        ... )
        >>> frame
        TrackedFrame(index=7, object_ids=[3], image_size=(4, 6))
        >>> frame.mask_of(3).sum(), frame.mask_of(5) is None
        (np.int64(6), True)
    """

    index: int
    object_ids: npt.NDArray[np.int64]
    masks: npt.NDArray[np.bool_]
    boxes: npt.NDArray[np.float32]
    scores: npt.NDArray[np.float32]
    image_size: tuple[int, int]
    timings: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        count = len(self.object_ids)
        height, width = self.image_size
        if self.masks.shape != (count, height, width) or self.masks.dtype != np.bool_:
            raise InputError(
                f"masks: expected ({count}, {height}, {width}) bool, got "
                f"{self.masks.shape} {self.masks.dtype}"
            )
        if self.boxes.shape != (count, 4) or self.scores.shape != (count,):
            raise InputError(f"boxes and scores: expected ({count}, 4) and ({count},)")
        object.__setattr__(self, "timings", MappingProxyType(dict(self.timings)))

    def __len__(self) -> int:
        return len(self.object_ids)

    def __repr__(self) -> str:
        return (
            f"TrackedFrame(index={self.index}, object_ids={self.object_ids.tolist()}, "
            f"image_size={self.image_size})"
        )

    def mask_of(self, object_id: int) -> npt.NDArray[np.bool_] | None:
        """The object's mask on this frame, ``None`` if it is not shown."""
        rows = np.flatnonzero(self.object_ids == object_id)
        return self.masks[rows[0]] if rows.size else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the frame index, size, and per object its id, score, xyxy box and COCO
        RLE mask (``{"size": [H, W], "counts": str}``)."""
        return {
            "index": self.index,
            "image_size": list(self.image_size),
            "objects": [
                {
                    "object_id": int(object_id),
                    "score": float(score),
                    "box": [float(v) for v in box],
                    "segmentation": encode_rle(mask),
                }
                for object_id, score, box, mask in zip(
                    self.object_ids, self.scores, self.boxes, self.masks, strict=True
                )
            ],
        }
