"""The answer to one prompt on a tiled image: instances with masks held as crops."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from sam3lib.errors import InputError
from sam3lib.formats import encode_cropped_rle, mask_to_polygons
from sam3lib.result import (
    MaskFormat,
    SegmentationResult,
    check_boxes_and_scores,
    check_image_size,
    check_timings,
    result_dict,
)
from sam3lib.tiling.cropped import CroppedMask

if TYPE_CHECKING:
    from PIL import Image

    from sam3lib.preprocess import ImageLike

__all__ = ["TiledSegmentationResult"]

_EXEMPLAR_LABEL = "exemplar"


@dataclass(frozen=True, eq=False, repr=False)
class TiledSegmentationResult:
    """Every instance of one prompt in a tiled image; each mask kept as its bounding box.

    Exports (:meth:`to_coco_rle`, :meth:`to_polygons`, :meth:`to_dict`) work from the crops,
    so they cost what the objects cover, never the image: a 20 000 x 20 000 image is fine.
    :meth:`mask`, :meth:`dense_masks` and :meth:`to_segmentation_result` build full-size
    masks on demand, for images where that fits in memory.

    Attributes:
        crops: one :class:`~sam3lib.tiling.CroppedMask` per instance.
        boxes: (N, 4) float32 xyxy in pixels of the image.
        scores: (N,) float32 detection scores, highest first.
        prompt: the text prompt as given; ``None`` for exemplar boxes only.
        image_size: (H, W) of the image.
        tiles: how many tiles the image was cut into.
        timings: seconds per stage, summed over tiles, plus ``"merge"``.
        query: the English text the model read (see :class:`SegmentationResult`).

    Example:
        >>> result = seg.segment("city.tif", "building", tiles=TileOptions())  # doctest: +SKIP
        >>> len(result), result.tiles  # doctest: +SKIP
        (412, 121)
        >>> rles = result.to_coco_rle()  # doctest: +SKIP
    """

    crops: tuple[CroppedMask, ...]
    boxes: npt.NDArray[np.float32]
    scores: npt.NDArray[np.float32]
    prompt: str | None
    image_size: tuple[int, int]
    tiles: int
    timings: Mapping[str, float] = field(default_factory=dict)
    query: str | None = None

    def __post_init__(self) -> None:
        height, width = check_image_size(self.image_size)
        object.__setattr__(self, "image_size", (height, width))
        object.__setattr__(self, "timings", MappingProxyType(check_timings(self.timings)))
        object.__setattr__(self, "crops", tuple(self.crops))
        count = len(self.crops)
        for index, crop in enumerate(self.crops):
            if not isinstance(crop, CroppedMask):
                raise InputError(
                    f"crops[{index}]: expected a CroppedMask, got {type(crop).__name__}"
                )
            rect = crop.rect
            if rect.top < 0 or rect.left < 0 or rect.bottom > height or rect.right > width:
                raise InputError(f"crops[{index}]: {rect} lies outside the {height}x{width} image")
        check_boxes_and_scores(self.boxes, self.scores, count)

    @property
    def label(self) -> str:
        """The prompt, or ``"exemplar"`` for exemplar boxes only."""
        return _EXEMPLAR_LABEL if self.prompt is None else self.prompt

    @property
    def areas(self) -> npt.NDArray[np.int64]:
        """(N,) int64: pixels in each mask."""
        return np.array([crop.area for crop in self.crops], dtype=np.int64)

    def __len__(self) -> int:
        return len(self.crops)

    def __repr__(self) -> str:
        return (
            f"TiledSegmentationResult(prompt={self.prompt!r}, instances={len(self)}, "
            f"image_size={self.image_size}, tiles={self.tiles})"
        )

    def mask(self, index: int) -> npt.NDArray[np.bool_]:
        """Instance ``index``'s full-size (H, W) bool mask."""
        return self.crops[index].full(self.image_size)

    def dense_masks(self) -> npt.NDArray[np.bool_]:
        """(N, H, W) bool: every mask at full size (N x H x W bytes: mind large images)."""
        height, width = self.image_size
        masks = np.zeros((len(self), height, width), dtype=np.bool_)
        for index, crop in enumerate(self.crops):
            rows, columns = crop.rect.slices()
            masks[index, rows, columns] = crop.pixels
        return masks

    def to_segmentation_result(self) -> SegmentationResult:
        """The same instances as a :class:`SegmentationResult` with full-size masks."""
        return SegmentationResult(
            masks=self.dense_masks(),
            boxes=self.boxes,
            scores=self.scores,
            prompt=self.prompt,
            image_size=self.image_size,
            timings=self.timings,
            query=self.query,
        )

    def to_coco_rle(self) -> list[dict[str, Any]]:
        """Each mask as a compressed COCO RLE of the full image, straight from its crop
        (byte-identical to ``pycocotools.mask.encode`` of the full-size mask)."""
        return [
            encode_cropped_rle(crop.pixels, crop.top, crop.left, self.image_size)
            for crop in self.crops
        ]

    def to_polygons(self) -> list[list[list[float]]]:
        """Each mask as COCO polygons in pixels of the image (see
        :meth:`SegmentationResult.to_polygons`)."""
        return [_shifted(mask_to_polygons(crop.pixels), crop.left, crop.top) for crop in self.crops]

    def to_dict(self, mask_format: MaskFormat = "rle") -> dict[str, Any]:
        """Plain Python values ready for ``json.dumps``, as :meth:`SegmentationResult.to_dict`
        gives, plus ``"tiles"``."""
        return {**result_dict(self, mask_format), "tiles": self.tiles}

    def overlay(self, image: ImageLike, **options: Any) -> Image.Image:
        """Draws this result over ``image`` (full-size masks are built: for images that fit in
        memory); ``options`` as for :meth:`SegmentationResult.overlay`."""
        return self.to_segmentation_result().overlay(image, **options)


def _shifted(polygons: Sequence[list[float]], dx: int, dy: int) -> list[list[float]]:
    shifted = []
    for polygon in polygons:
        points = np.asarray(polygon, dtype=np.float64).reshape(-1, 2) + np.array([dx, dy])
        shifted.append(points.ravel().tolist())
    return shifted
