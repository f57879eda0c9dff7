"""Automatic masks ("segment everything"): a grid of clicks through the interactive head.

The semantics are segment-anything's ``SamAutomaticMaskGenerator``, step by step (the pure
steps are in :mod:`sam3lib.interactive.mask_generation`):

1. the image, and with ``crop_n_layers`` > 0 its overlapping crops, are encoded once each;
2. each gets a grid of single positive clicks, decoded ``points_per_batch`` at a time with
   three candidates per click;
3. candidates whose predicted IoU is not above ``pred_iou_thresh`` are dropped, the rest
   resized to the crop and dropped if their stability score is below
   ``stability_score_thresh``; masks reaching a crop's cut edge (not the image's) go too;
4. box NMS within each crop (scores = predicted IoU), then across crops preferring smaller
   crops; optional removal of small holes and islands (``min_mask_region_area``);
5. masks are returned sorted by area, largest first.

One difference is inherent to SAM 3: it squashes the image to S×S instead of padding it, so
masks are resized straight to the crop's size. Candidate masks are resized only after the IoU
filter (segment-anything resizes all, then filters): the same result, less memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from sam3lib.embedding import ImageEmbedding
from sam3lib.errors import InputError
from sam3lib.interactive.mask_generation import (
    CropBox,
    MaskGenerationOptions,
    box_nms,
    box_touches_crop_edge,
    crop_boxes,
    crop_nms,
    crop_point_grids,
    keep_by_quality,
    postprocess_small_regions,
    stability_score,
    uncrop_boxes,
    uncrop_masks,
    uncrop_points,
)
from sam3lib.interactive.predictor import InteractivePredictor
from sam3lib.interactive.prompts import clicks_prompt
from sam3lib.postprocess import boxes_from_masks
from sam3lib.result import SegmentationResult

__all__ = ["GeneratedMasks", "generate_masks"]


@dataclass(frozen=True, eq=False, repr=False)
class GeneratedMasks(SegmentationResult):
    """Automatic masks of one image, largest first: a :class:`SegmentationResult` whose
    ``scores`` are predicted IoUs, plus where each mask came from.

    Attributes:
        stability_scores: (N,) float32 stability score of each mask.
        points: (N, 2) float32 the click (xy pixels of the image) that produced each mask.
        crop_boxes: (N, 4) int64 the crop (xyxy pixels) each mask was found in.
    """

    stability_scores: npt.NDArray[np.float32] = field(
        default_factory=lambda: np.zeros(0, dtype=np.float32)
    )
    points: npt.NDArray[np.float32] = field(
        default_factory=lambda: np.zeros((0, 2), dtype=np.float32)
    )
    crop_boxes: npt.NDArray[np.int64] = field(
        default_factory=lambda: np.zeros((0, 4), dtype=np.int64)
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        count = len(self.scores)
        for name, shape in (
            ("stability_scores", (count,)),
            ("points", (count, 2)),
            ("crop_boxes", (count, 4)),
        ):
            if np.shape(getattr(self, name)) != shape:
                got = np.shape(getattr(self, name))
                raise InputError(f"{name}: expected shape {shape}, got {got}")

    @property
    def label(self) -> str:
        return "object"

    def __repr__(self) -> str:
        return f"GeneratedMasks(masks={len(self)}, image_size={self.image_size})"


class _Masks(NamedTuple):
    """Masks with what the filters and the result need of them."""

    masks: torch.Tensor  #: (N, h, w) bool
    boxes: torch.Tensor  #: (N, 4) float32 xyxy pixel edges
    scores: torch.Tensor  #: (N,) predicted IoU
    stability: torch.Tensor  #: (N,) stability score
    points: torch.Tensor  #: (N, 2) the clicks

    def take(self, rows: torch.Tensor) -> _Masks:
        return _Masks(*(t[rows] for t in self))


@dataclass
class _Found:
    """Masks kept so far, in parts: masks, boxes, scores, stability, points, and the crop
    each came from."""

    masks: list[torch.Tensor] = field(default_factory=list)
    boxes: list[torch.Tensor] = field(default_factory=list)
    scores: list[torch.Tensor] = field(default_factory=list)
    stability: list[torch.Tensor] = field(default_factory=list)
    points: list[torch.Tensor] = field(default_factory=list)
    crops: list[torch.Tensor] = field(default_factory=list)

    def append(self, part: _Masks, crop_box: CropBox | None = None) -> None:
        for values, value in zip(
            (self.masks, self.boxes, self.scores, self.stability, self.points), part, strict=True
        ):
            values.append(value)
        if crop_box is not None:
            self.crops.append(torch.tensor(crop_box).expand(part.masks.shape[0], 4))

    def cat(self) -> _Masks:
        parts = (self.masks, self.boxes, self.scores, self.stability, self.points)
        return _Masks(*(torch.cat(values) for values in parts))


def generate_masks(
    predictor: InteractivePredictor,
    encode: Callable[[npt.NDArray[np.uint8]], ImageEmbedding],
    image_rgb: npt.NDArray[np.uint8],
    options: MaskGenerationOptions,
    *,
    progress: bool | None = None,
) -> GeneratedMasks:
    """Every object SAM 3 finds from a grid of clicks; see the module docstring.

    Args:
        predictor: runs the interactive head.
        encode: encodes an (h, w, 3) uint8 RGB image (the whole image, or a crop).
        image_rgb: (H, W, 3) uint8 RGB image.
        options: the generator's options.
        progress: show a progress bar over the batches of clicks; by default only on a
            terminal.
    """
    height, width = image_rgb.shape[:2]
    image_box: CropBox = (0, 0, width, height)
    boxes_of_crops, layers = crop_boxes(
        (height, width), options.crop_n_layers, options.crop_overlap_ratio
    )
    grids = crop_point_grids(
        options.points_per_side, options.crop_n_layers, options.crop_n_points_downscale_factor
    )
    batches = sum(-(-len(grids[layer]) // options.points_per_batch) for layer in layers)
    hidden = None if progress is None else not progress  # tqdm's None: on a terminal only
    found = _Found()
    with tqdm(total=batches, desc="generating", unit="batch", disable=hidden) as bar:
        for crop_box, layer in zip(boxes_of_crops, layers, strict=True):
            crop = _Crop(crop_box, image_box)
            embedding = encode(np.ascontiguousarray(image_rgb[crop.slices]))
            for part in _crop_masks(predictor, embedding, crop, grids[layer], options, bar):
                found.append(part, crop_box=crop.box)
    return _finish(found, options, (height, width))


@dataclass(frozen=True)
class _Crop:
    box: CropBox  #: xyxy in pixels of the image
    image_box: CropBox  #: (0, 0, W, H)

    @property
    def size(self) -> tuple[int, int]:
        """(h, w) of the crop."""
        x0, y0, x1, y1 = self.box
        return y1 - y0, x1 - x0

    @property
    def slices(self) -> tuple[slice, slice]:
        x0, y0, x1, y1 = self.box
        return slice(y0, y1), slice(x0, x1)


def _crop_masks(
    predictor: InteractivePredictor,
    embedding: ImageEmbedding,
    crop: _Crop,
    grid: torch.Tensor,
    options: MaskGenerationOptions,
    bar: tqdm,
) -> Iterator[_Masks]:
    """The masks of one crop that pass the quality and edge filters and the crop's own box
    NMS, in image coordinates (one part, or none)."""
    height, width = crop.size
    features = embedding.interactive_features()
    model_size = predictor.backend.config.vision.image_size
    points_px = grid * torch.tensor([width, height], dtype=grid.dtype)
    found = _Found()
    for start in range(0, points_px.shape[0], options.points_per_batch):
        batch = points_px[start : start + options.points_per_batch]
        prompts = clicks_prompt(batch, crop.size, model_size, predictor.mask_size)
        chosen = predictor.decode(features, prompts, multimask=True)
        found.append(
            _filter_candidates(chosen.mask_logits, chosen.iou_scores, batch, crop, options)
        )
        bar.update()
    if not found.masks:
        return
    candidates = found.cat()
    kept = candidates.take(box_nms(candidates.boxes, candidates.scores, options.box_nms_thresh))
    yield kept._replace(
        masks=uncrop_masks(kept.masks, crop.box, (crop.image_box[3], crop.image_box[2])),
        boxes=uncrop_boxes(kept.boxes, crop.box),
        points=uncrop_points(kept.points, crop.box),
    )


def _filter_candidates(
    mask_logits: torch.Tensor,
    iou_scores: torch.Tensor,
    points_px: torch.Tensor,
    crop: _Crop,
    options: MaskGenerationOptions,
) -> _Masks:
    """A batch's candidates (B clicks × 3) that pass every per-mask filter, in crop pixels."""
    per_click = mask_logits.shape[1]
    logits = mask_logits.flatten(0, 1).float().cpu()
    scores = iou_scores.flatten().float().cpu()
    points = points_px.repeat_interleave(per_click, dim=0)
    # The IoU filter first: only its survivors are resized (the same result, less memory).
    if options.pred_iou_thresh > 0:
        likely = scores > options.pred_iou_thresh
        logits, scores, points = logits[likely], scores[likely], points[likely]
    resized = F.interpolate(
        logits.unsqueeze(1), size=crop.size, mode="bilinear", align_corners=False
    ).squeeze(1)
    stability = stability_score(resized, options.mask_threshold, options.stability_score_offset)
    keep = keep_by_quality(
        scores, stability, options.pred_iou_thresh, options.stability_score_thresh
    )
    masks = resized[keep] > options.mask_threshold
    boxes = boxes_from_masks(masks)
    inside = ~box_touches_crop_edge(boxes, crop.box, crop.image_box)
    return _Masks(masks, boxes, scores[keep], stability[keep], points[keep]).take(inside)


def _finish(
    found: _Found, options: MaskGenerationOptions, image_size: tuple[int, int]
) -> GeneratedMasks:
    """Across-crop NMS, small-region clean-up, largest first."""
    if not found.masks:
        return GeneratedMasks.empty(None, image_size)  # type: ignore[return-value]
    masks, boxes, scores, stability, points = found.cat()
    crops = torch.cat(found.crops)
    if options.crop_n_layers > 0:
        kept = crop_nms(boxes, crops, options.crop_nms_thresh)
        masks, boxes, scores, stability, points, crops = (
            t[kept] for t in (masks, boxes, scores, stability, points, crops)
        )
    if options.min_mask_region_area > 0:
        kept, masks, boxes = postprocess_small_regions(
            masks, options.min_mask_region_area, options.box_nms_thresh
        )
        scores, stability, points, crops = (t[kept] for t in (scores, stability, points, crops))
    order = torch.argsort(masks.flatten(1).sum(1), descending=True, stable=True)
    return GeneratedMasks(
        masks=masks[order].numpy(),
        boxes=boxes[order].numpy(),
        scores=scores[order].numpy(),
        prompt=None,
        image_size=image_size,
        stability_scores=stability[order].numpy(),
        points=points[order].float().numpy(),
        crop_boxes=crops[order].numpy(),
    )
