"""Pure helpers of the automatic "segment everything" mask generator.

They follow segment-anything's ``SamAutomaticMaskGenerator`` (``segment_anything/utils/amg.py``):
a grid of point prompts per crop, quality filters on the decoder's outputs, box NMS within a
crop, NMS across crops preferring smaller crops, and an optional small-region clean-up. The
orchestration that runs the model lives elsewhere; everything here is a function of tensors.

Conventions:

- Points are (x, y). Grids are normalised to [0, 1]; pixel points are in pixel-edge
  coordinates, so the centre of pixel (row y, column x) is (x + 0.5, y + 0.5).
- Crop boxes are int (x0, y0, x1, y1): the crop holds columns x0..x1-1 and rows y0..y1-1, and
  the whole image of size (H, W) is (0, 0, W, H).
- Boxes around masks come from :func:`sam3lib.postprocess.boxes_from_masks`: pixel-edge
  (x_min, y_min, x_max + 1, y_max + 1), all zeros for an empty mask. segment-anything's
  ``batched_mask_to_box`` returns the inclusive (x_min, y_min, x_max, y_max) instead, so
  against it our right and bottom edges are one pixel further out: box IoUs in NMS differ
  slightly, and :func:`box_touches_crop_edge` (which compares a box's edges with the crop's,
  both pixel-edge here) treats the four sides alike, where segment-anything's tolerance is
  one pixel narrower on the right and bottom sides.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import product
from typing import Literal, TypeAlias

import numpy as np
import torch

from sam3lib.errors import InputError
from sam3lib.postprocess._checks import (
    check_float_tensor,
    check_int,
    check_masks,
    check_size,
    check_unit_interval,
    describe,
)
from sam3lib.postprocess.boxes import boxes_from_masks
from sam3lib.postprocess.components import component_areas, connected_components
from sam3lib.postprocess.refine import remove_small_regions as remove_small_islands

__all__ = [
    "CropBox",
    "MaskGenerationOptions",
    "RegionMode",
    "box_nms",
    "box_touches_crop_edge",
    "crop_boxes",
    "crop_nms",
    "crop_point_grids",
    "keep_by_quality",
    "point_grid",
    "postprocess_small_regions",
    "remove_small_regions",
    "stability_score",
    "uncrop_boxes",
    "uncrop_masks",
    "uncrop_points",
]

CropBox: TypeAlias = tuple[int, int, int, int]
"""An int crop box (x0, y0, x1, y1) in pixels of the full image, x1 and y1 exclusive."""

RegionMode: TypeAlias = Literal["holes", "islands"]


@dataclass(frozen=True)
class MaskGenerationOptions:
    """Options of the automatic mask generator, with segment-anything's defaults.

    Attributes:
        points_per_side: the point grid of the whole image has points_per_side² points,
            at the centres of a points_per_side × points_per_side grid of cells. Default 32.
        points_per_batch: points run through the mask decoder at once; memory, not results.
            Default 64.
        pred_iou_thresh: masks whose predicted IoU is not above this are dropped; 0 disables
            the filter. In [0, 1], default 0.88.
        stability_score_thresh: masks whose :func:`stability_score` is below this are dropped;
            0 disables the filter. In [0, 1], default 0.95.
        stability_score_offset: the shift of the logit threshold, up and down, with which the
            stability score is computed. A finite number >= 0, default 1.0.
        box_nms_thresh: box IoU above which the lower-scoring of two masks of one crop is
            dropped (scores are predicted IoUs). In [0, 1], default 0.7.
        crop_n_layers: extra layers of crops; layer i (1-based) cuts the image into
            2**i × 2**i overlapping crops, each prompted with its own grid. Default 0.
        crop_nms_thresh: box IoU above which, of two masks from different crops, the one from
            the larger crop is dropped. In [0, 1], default 0.7.
        crop_overlap_ratio: the overlap of neighbouring crops of layer 1, as a fraction of the
            image's shorter side; later layers scale it down. In [0, 1), default 512/1500.
        crop_n_points_downscale_factor: crop layer i uses a grid of
            points_per_side // crop_n_points_downscale_factor**i points per side. An int
            >= 1, default 1.
        min_mask_region_area: if positive, holes and islands smaller than this many pixels
            are removed from each mask (:func:`postprocess_small_regions`). Default 0.
        mask_threshold: logit above which a pixel is in a mask (segment-anything's
            ``Sam.mask_threshold``). A finite number, default 0.0.

    Raises:
        InputError: an option is out of range; the message names it and the accepted range.

    Example:
        >>> MaskGenerationOptions(points_per_side=16, crop_n_layers=1).points_per_batch
        64
    """

    points_per_side: int = 32
    points_per_batch: int = 64
    pred_iou_thresh: float = 0.88
    stability_score_thresh: float = 0.95
    stability_score_offset: float = 1.0
    box_nms_thresh: float = 0.7
    crop_n_layers: int = 0
    crop_nms_thresh: float = 0.7
    crop_overlap_ratio: float = 512 / 1500
    crop_n_points_downscale_factor: int = 1
    min_mask_region_area: int = 0
    mask_threshold: float = 0.0

    def __post_init__(self) -> None:
        check_int(self.points_per_side, "points_per_side", 1)
        check_int(self.points_per_batch, "points_per_batch", 1)
        check_unit_interval(self.pred_iou_thresh, "pred_iou_thresh")
        check_unit_interval(self.stability_score_thresh, "stability_score_thresh")
        _check_real(self.stability_score_offset, "stability_score_offset", non_negative=True)
        check_unit_interval(self.box_nms_thresh, "box_nms_thresh")
        check_int(self.crop_n_layers, "crop_n_layers", 0)
        check_unit_interval(self.crop_nms_thresh, "crop_nms_thresh")
        _check_overlap_ratio(self.crop_overlap_ratio, "crop_overlap_ratio")
        check_int(self.crop_n_points_downscale_factor, "crop_n_points_downscale_factor", 1)
        check_int(self.min_mask_region_area, "min_mask_region_area", 0)
        _check_real(self.mask_threshold, "mask_threshold", non_negative=False)
        _check_layer_sides(
            self.points_per_side, self.crop_n_layers, self.crop_n_points_downscale_factor
        )


# --- point grids and crops -----------------------------------------------------------------------


def point_grid(points_per_side: int) -> torch.Tensor:
    """The centres of a points_per_side × points_per_side grid of cells over [0, 1]².

    Args:
        points_per_side: an int >= 1.

    Returns:
        (points_per_side², 2) float32 points (x, y) in [0, 1], row by row: x varies fastest.
        On the CPU.

    Raises:
        InputError: ``points_per_side`` is not an int >= 1.

    Example:
        >>> point_grid(2).tolist()
        [[0.25, 0.25], [0.75, 0.25], [0.25, 0.75], [0.75, 0.75]]
    """
    side = check_int(points_per_side, "points_per_side", 1)
    centres = (torch.arange(side, dtype=torch.float64) + 0.5) / side
    ys, xs = torch.meshgrid(centres, centres, indexing="ij")
    return torch.stack([xs.flatten(), ys.flatten()], dim=1).to(torch.float32)


def crop_point_grids(
    points_per_side: int, n_layers: int, scale_per_layer: int
) -> list[torch.Tensor]:
    """The point grid of each crop layer: layer i has points_per_side // scale_per_layer**i.

    Args:
        points_per_side: points per side of layer 0 (the whole image), an int >= 1.
        n_layers: crop layers after layer 0, an int >= 0.
        scale_per_layer: the per-layer downscale of points per side, an int >= 1.

    Returns:
        ``n_layers + 1`` grids as :func:`point_grid` returns them, layer 0 first.

    Raises:
        InputError: an argument is out of range, or a layer would get no point.

    Example:
        >>> [len(grid) for grid in crop_point_grids(8, n_layers=2, scale_per_layer=2)]
        [64, 16, 4]
    """
    check_int(points_per_side, "points_per_side", 1)
    check_int(n_layers, "n_layers", 0)
    check_int(scale_per_layer, "scale_per_layer", 1)
    sides = _check_layer_sides(points_per_side, n_layers, scale_per_layer)
    return [point_grid(side) for side in sides]


def crop_boxes(
    image_size_hw: tuple[int, int], n_layers: int, overlap_ratio: float
) -> tuple[list[CropBox], list[int]]:
    """The crops of every layer: the whole image, then 2**i × 2**i overlapping crops per layer i.

    The geometry of segment-anything's ``generate_crop_boxes``: layer i (from 1) overlaps
    neighbouring crops by ``int(overlap_ratio · short_side · 2 / 2**i)`` pixels; the crops of a
    layer all have the same size (clipped at the image's right and bottom edges) and are listed
    column by column (x0 outer, y0 inner).

    Args:
        image_size_hw: (H, W) of the image in pixels.
        n_layers: crop layers after layer 0, an int >= 0.
        overlap_ratio: in [0, 1).

    Returns:
        (crop boxes, layer index of each box). The first box is (0, 0, W, H), layer 0.

    Raises:
        InputError: an argument is out of range.

    Example:
        >>> boxes, layers = crop_boxes((100, 200), n_layers=1, overlap_ratio=0.2)
        >>> boxes[:3], layers
        ([(0, 0, 200, 100), (0, 0, 110, 60), (0, 40, 110, 100)], [0, 1, 1, 1, 1])
    """
    height, width = check_size(image_size_hw, "image_size_hw")
    check_int(n_layers, "n_layers", 0)
    ratio = _check_overlap_ratio(overlap_ratio, "overlap_ratio")
    boxes: list[CropBox] = [(0, 0, width, height)]
    layers = [0]
    short_side = min(height, width)
    for layer in range(1, n_layers + 1):
        per_side = 2**layer
        overlap = int(ratio * short_side * (2 / per_side))
        crop_w = math.ceil((overlap * (per_side - 1) + width) / per_side)
        crop_h = math.ceil((overlap * (per_side - 1) + height) / per_side)
        x0s = [(crop_w - overlap) * i for i in range(per_side)]
        y0s = [(crop_h - overlap) * i for i in range(per_side)]
        for x0, y0 in product(x0s, y0s):
            boxes.append((x0, y0, min(x0 + crop_w, width), min(y0 + crop_h, height)))
            layers.append(layer)
    return boxes, layers


# --- filters -------------------------------------------------------------------------------------


def stability_score(
    mask_logits: torch.Tensor, mask_threshold: float, offset: float
) -> torch.Tensor:
    """IoU of each mask thresholded at ``mask_threshold ± offset``: how stable it is.

    The mask above ``mask_threshold + offset`` lies inside the one above
    ``mask_threshold - offset``, so the IoU is the ratio of their areas (pixel counts, strictly
    above each threshold).

    Args:
        mask_logits: (N, H, W) float mask logits.
        mask_threshold: the logit threshold of the masks, a finite number.
        offset: the shift, a finite number >= 0.

    Returns:
        (N,) float32 in [0, 1] on the device of ``mask_logits``; 0 where the low-threshold
        mask is empty (segment-anything divides 0 by 0 there and gets NaN; either fails any
        positive stability threshold).

    Raises:
        InputError: an argument has the wrong type, shape or value.

    Example:
        >>> logits = torch.tensor([[[3.0, 2.0, 0.5, -0.5, -3.0]]])
        >>> stability_score(logits, mask_threshold=0.0, offset=1.0).tolist()
        [0.5]
    """
    check_float_tensor(mask_logits, "mask_logits", 3, "(N, H, W)")
    threshold = _check_real(mask_threshold, "mask_threshold", non_negative=False)
    shift = _check_real(offset, "offset", non_negative=True)
    high = (mask_logits > threshold + shift).flatten(1).sum(dim=1)
    low = (mask_logits > threshold - shift).flatten(1).sum(dim=1)
    ratio = high.to(torch.float64) / low.clamp(min=1).to(torch.float64)
    return ratio.to(torch.float32)


def keep_by_quality(
    iou_predictions: torch.Tensor,
    stability_scores: torch.Tensor,
    pred_iou_thresh: float,
    stability_score_thresh: float,
) -> torch.Tensor:
    """Which masks pass segment-anything's two quality filters.

    A mask passes if its predicted IoU is above ``pred_iou_thresh`` (strictly) and its
    stability score at least ``stability_score_thresh``; a threshold of 0 disables its filter
    (so a negative predicted IoU passes it then).

    Args:
        iou_predictions: (N,) float, the decoder's predicted IoUs.
        stability_scores: (N,) float, as :func:`stability_score` returns them.
        pred_iou_thresh: in [0, 1].
        stability_score_thresh: in [0, 1].

    Returns:
        (N,) bool on the device of ``iou_predictions``.

    Raises:
        InputError: an argument has the wrong type, shape or value.

    Example:
        >>> keep_by_quality(
        ...     torch.tensor([0.9, 0.88, 0.95]), torch.tensor([0.95, 1.0, 0.9]), 0.88, 0.95
        ... ).tolist()
        [True, False, False]
    """
    check_float_tensor(iou_predictions, "iou_predictions", 1, "(N,)")
    check_float_tensor(stability_scores, "stability_scores", 1, "(N,)")
    _check_same_length(stability_scores, iou_predictions, "stability_scores", "iou_predictions")
    iou_limit = check_unit_interval(pred_iou_thresh, "pred_iou_thresh")
    stability_limit = check_unit_interval(stability_score_thresh, "stability_score_thresh")
    keep = torch.ones(iou_predictions.shape, dtype=torch.bool, device=iou_predictions.device)
    if iou_limit > 0:
        keep &= iou_predictions > iou_limit
    if stability_limit > 0:
        keep &= stability_scores.to(keep.device) >= stability_limit
    return keep


def box_touches_crop_edge(
    boxes_xyxy_px: torch.Tensor,
    crop_box: CropBox,
    image_box: CropBox,
    atol: float = 20.0,
) -> torch.Tensor:
    """Which boxes reach a crop's edge where that edge is not the image's edge.

    segment-anything's ``is_box_near_crop_edge``: a mask cut off by its crop is unreliable
    there; the crop's side is only a cut where it is not also the image's side. A box side
    "reaches" an edge within ``atol`` pixels, compared coordinate by coordinate: the box's
    x0 with the edge's x0, ..., its y1 with the edge's y1.

    Args:
        boxes_xyxy_px: (N, 4) boxes in pixels of the crop, pixel-edge as
            :func:`sam3lib.postprocess.boxes_from_masks` returns them (see the module's note
            on segment-anything's inclusive boxes).
        crop_box: the crop, in pixels of the image.
        image_box: the whole image, (0, 0, W, H).
        atol: the tolerance in pixels, a finite number >= 0.

    Returns:
        (N,) bool on the device of ``boxes_xyxy_px``: True where a side of the box (in image
        coordinates) is within ``atol`` of the crop's same side but not of the image's.

    Raises:
        InputError: an argument has the wrong type, shape or value.

    Example:
        >>> boxes = torch.tensor([[0.0, 10.0, 30.0, 50.0], [40.0, 40.0, 60.0, 60.0]])
        >>> box_touches_crop_edge(boxes, (100, 0, 200, 100), (0, 0, 200, 100)).tolist()
        [True, False]
    """
    _check_boxes(boxes_xyxy_px, "boxes_xyxy_px")
    crop = _check_crop_box(crop_box, "crop_box")
    image = _check_crop_box(image_box, "image_box")
    tolerance = _check_real(atol, "atol", non_negative=True)
    boxes = uncrop_boxes(boxes_xyxy_px, crop).to(torch.float32)
    crop_edges = torch.tensor(crop, dtype=torch.float32, device=boxes.device)
    image_edges = torch.tensor(image, dtype=torch.float32, device=boxes.device)
    near_crop = torch.isclose(boxes, crop_edges, rtol=0.0, atol=tolerance)
    near_image = torch.isclose(boxes, image_edges, rtol=0.0, atol=tolerance)
    return (near_crop & ~near_image).any(dim=1)


# --- from crop to image coordinates --------------------------------------------------------------


def uncrop_boxes(boxes_xyxy_px: torch.Tensor, crop_box: CropBox) -> torch.Tensor:
    """Moves boxes from a crop's pixel coordinates to the image's.

    Args:
        boxes_xyxy_px: (..., 4) boxes (x0, y0, x1, y1) in pixels of the crop, any real dtype.
        crop_box: the crop, in pixels of the image.

    Returns:
        A new tensor of the same shape, dtype and device: each box shifted by the crop's
        (x0, y0).

    Raises:
        InputError: an argument has the wrong type, shape or value.

    Example:
        >>> uncrop_boxes(torch.tensor([[1, 2, 3, 4]]), (10, 20, 50, 60)).tolist()
        [[11, 22, 13, 24]]
    """
    return _shift_by_crop_origin(boxes_xyxy_px, crop_box, "boxes_xyxy_px", repeats=2)


def uncrop_points(points_xy_px: torch.Tensor, crop_box: CropBox) -> torch.Tensor:
    """Moves points from a crop's pixel coordinates to the image's.

    Args:
        points_xy_px: (..., 2) points (x, y) in pixels of the crop, any real dtype.
        crop_box: the crop, in pixels of the image.

    Returns:
        A new tensor of the same shape, dtype and device: each point shifted by the crop's
        (x0, y0).

    Raises:
        InputError: an argument has the wrong type, shape or value.

    Example:
        >>> uncrop_points(torch.tensor([[0.5, 1.5]]), (10, 20, 50, 60)).tolist()
        [[10.5, 21.5]]
    """
    return _shift_by_crop_origin(points_xy_px, crop_box, "points_xy_px", repeats=1)


def uncrop_masks(
    masks: torch.Tensor, crop_box: CropBox, image_size_hw: tuple[int, int]
) -> torch.Tensor:
    """Places masks of a crop into the full image, background outside the crop.

    Args:
        masks: (N, h, w) bool, (h, w) the crop's size (y1 - y0, x1 - x0).
        crop_box: the crop, in pixels of the image; it must lie inside the image.
        image_size_hw: (H, W) of the image.

    Returns:
        (N, H, W) bool on the device of ``masks``; ``masks`` itself when the crop is the
        whole image.

    Raises:
        InputError: an argument has the wrong type, shape or value, or the crop does not fit
            the masks or the image.

    Example:
        >>> uncrop_masks(torch.ones(1, 1, 2, dtype=torch.bool), (1, 0, 3, 1), (2, 3)).tolist()
        [[[False, True, True], [False, False, False]]]
    """
    check_masks(masks)
    x0, y0, x1, y1 = _check_crop_box(crop_box, "crop_box")
    height, width = check_size(image_size_hw, "image_size_hw")
    if x1 > width or y1 > height:
        raise InputError(
            f"crop_box: expected a box inside the image (0, 0, {width}, {height}), got {crop_box!r}"
        )
    if masks.shape[1:] != (y1 - y0, x1 - x0):
        raise InputError(
            f"masks: expected the crop's size (h, w) = ({y1 - y0}, {x1 - x0}), "
            f"got {tuple(masks.shape[1:])}"
        )
    if (x0, y0, x1, y1) == (0, 0, width, height):
        return masks
    image_masks = masks.new_zeros((masks.shape[0], height, width))
    image_masks[:, y0:y1, x0:x1] = masks
    return image_masks


# --- non-maximum suppression ---------------------------------------------------------------------


def box_nms(boxes_xyxy: torch.Tensor, scores: torch.Tensor, iou_threshold: float) -> torch.Tensor:
    """Greedy non-maximum suppression on box IoU, as ``torchvision.ops.nms``.

    Boxes are visited by descending score (ties keep their order); a box is kept unless its
    IoU with an already kept box is greater than ``iou_threshold``. The IoU is torchvision's:
    areas (x1 - x0)·(y1 - y0) without a +1, intersection / (area_a + area_b - intersection),
    computed in float32 (float64 boxes: float64); two boxes of zero area have a NaN IoU and
    never suppress each other.

    Args:
        boxes_xyxy: (N, 4) float boxes (x0, y0, x1, y1).
        scores: (N,) float.
        iou_threshold: in [0, 1]; 1 keeps every box.

    Returns:
        (K,) int64 indices of the kept boxes, by descending score, on the device of
        ``boxes_xyxy``.

    Raises:
        InputError: an argument has the wrong type, shape or value.

    Example:
        >>> boxes = torch.tensor([[0.0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]])
        >>> box_nms(boxes, torch.tensor([0.5, 0.9, 0.1]), iou_threshold=0.5).tolist()
        [1, 2]
    """
    _check_boxes(boxes_xyxy, "boxes_xyxy")
    check_float_tensor(scores, "scores", 1, "(N,)")
    _check_same_length(scores, boxes_xyxy, "scores", "boxes_xyxy")
    limit = check_unit_interval(iou_threshold, "iou_threshold")
    order = torch.argsort(scores.to(boxes_xyxy.device), descending=True, stable=True)
    dtype = torch.float64 if boxes_xyxy.dtype == torch.float64 else torch.float32
    over_limit = _box_iou(boxes_xyxy[order].to(dtype)) > limit
    kept = _greedy_survivors(over_limit.cpu().numpy())
    return order[torch.as_tensor(kept, dtype=torch.int64, device=order.device)]


def crop_nms(
    boxes_xyxy_px: torch.Tensor, crop_boxes_xyxy_px: torch.Tensor, iou_threshold: float
) -> torch.Tensor:
    """Box NMS across crops that prefers masks from smaller crops.

    segment-anything's duplicate removal between crops: :func:`box_nms` with score
    1 / area of the mask's crop, so of two overlapping masks the one from the smaller crop
    stays; between crops of equal area, the earlier mask.

    Args:
        boxes_xyxy_px: (N, 4) float boxes of the masks, in pixels of the image.
        crop_boxes_xyxy_px: (N, 4) the crop box each mask came from, in pixels of the image.
        iou_threshold: in [0, 1].

    Returns:
        (K,) int64 indices of the kept masks, smallest crops first, on the device of
        ``boxes_xyxy_px``.

    Raises:
        InputError: an argument has the wrong type, shape or value.

    Example:
        >>> boxes = torch.tensor([[10.0, 10, 50, 50], [12, 10, 50, 52]])
        >>> crops = torch.tensor([[0, 0, 100, 100], [0, 0, 60, 60]])
        >>> crop_nms(boxes, crops, iou_threshold=0.7).tolist()
        [1]
    """
    _check_coordinates(crop_boxes_xyxy_px, "crop_boxes_xyxy_px", 4)
    if crop_boxes_xyxy_px.ndim != 2:
        raise InputError(
            f"crop_boxes_xyxy_px: expected an (N, 4) tensor, got {describe(crop_boxes_xyxy_px)}"
        )
    crops = crop_boxes_xyxy_px.to(torch.float64)
    areas = (crops[:, 2] - crops[:, 0]) * (crops[:, 3] - crops[:, 1])
    return box_nms(boxes_xyxy_px, 1.0 / areas, iou_threshold)


# --- small-region clean-up -----------------------------------------------------------------------


def remove_small_regions(
    masks: torch.Tensor, min_area: int, mode: RegionMode
) -> tuple[torch.Tensor, torch.Tensor]:
    """segment-anything's ``remove_small_regions``: fills small holes or drops small islands.

    Both modes use 8-connectivity, as segment-anything's OpenCV call does, and a region is
    small when it has fewer than ``min_area`` pixels.

    - ``"holes"``: every 8-connected background region smaller than ``min_area`` is filled,
      including one that touches the image border. (Unlike
      :func:`sam3lib.postprocess.fill_holes`, whose holes are 4-connected, never touch the
      border and are filled up to and including ``max_area``.)
    - ``"islands"``: every 8-connected region smaller than ``min_area`` is removed
      (:func:`sam3lib.postprocess.remove_small_regions`); but where all of a mask's regions
      are small, its largest one is kept (between equal areas, the one whose first pixel
      comes first in raster order; OpenCV's labelling order may break such exact ties
      otherwise).

    Args:
        masks: (N, H, W) bool.
        min_area: in pixels, an int >= 0; 0 changes nothing.
        mode: ``"holes"`` or ``"islands"``.

    Returns:
        (new masks (N, H, W) bool, changed (N,) bool), on the device of ``masks``. A mask is
        "changed" when it had a small region, as segment-anything's flag: also in islands
        mode where its only region is small and is kept, so the pixels stay the same.

    Raises:
        InputError: an argument has the wrong type or value.

    Example:
        >>> masks = torch.tensor([[[True, False, True, True, True]]])
        >>> cleaned, changed = remove_small_regions(masks, min_area=2, mode="holes")
        >>> cleaned.tolist(), changed.tolist()
        ([[[True, True, True, True, True]]], [True])
    """
    check_masks(masks)
    area = check_int(min_area, "min_area", 0)
    if mode == "holes":
        background = ~masks
        small = background & (component_areas(connected_components(background, 8)) < area)
        return masks | small, small.flatten(1).any(dim=1)
    if mode == "islands":
        cleaned = remove_small_islands(masks, area)
        changed = (cleaned != masks).flatten(1).any(dim=1)
        all_small = changed & ~cleaned.flatten(1).any(dim=1)
        if bool(all_small.any()):
            cleaned[all_small] = _largest_region(masks[all_small])
        return cleaned, changed
    raise InputError(f"mode: expected 'holes' or 'islands', got {mode!r}")


def postprocess_small_regions(
    masks: torch.Tensor, min_area: int, iou_threshold: float
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """segment-anything's clean-up of the final masks: small holes, small islands, then NMS.

    Each mask gets its small holes filled, then its small islands removed
    (:func:`remove_small_regions`). Box NMS on the cleaned masks' boxes then scores each mask
    1 if neither step changed it and 0 otherwise, so of two overlapping masks an unchanged one
    is preferred.

    Args:
        masks: (N, H, W) bool, the masks of the whole image.
        min_area: in pixels, an int >= 0.
        iou_threshold: box IoU threshold of the NMS, in [0, 1] (segment-anything passes
            ``box_nms_thresh``).

    Returns:
        (kept indices (K,) int64, their cleaned masks (K, H, W) bool, their boxes (K, 4)
        float32 as :func:`sam3lib.postprocess.boxes_from_masks`), in NMS order: the unchanged
        masks first, each group in input order. On the device of ``masks``.

    Raises:
        InputError: an argument has the wrong type, shape or value.

    Example:
        >>> masks = torch.zeros(2, 4, 4, dtype=torch.bool)
        >>> masks[:, :2, :2] = True
        >>> masks[0, 3, 3] = True  # a one-pixel island: cleaned, so NMS prefers mask 1
        >>> kept, cleaned, boxes = postprocess_small_regions(masks, 2, iou_threshold=0.7)
        >>> kept.tolist(), boxes.tolist()
        ([1], [[0.0, 0.0, 2.0, 2.0]])
    """
    filled, holes_changed = remove_small_regions(masks, min_area, "holes")
    cleaned, islands_changed = remove_small_regions(filled, min_area, "islands")
    unchanged = ~(holes_changed | islands_changed)
    boxes = boxes_from_masks(cleaned)
    kept = box_nms(boxes, unchanged.to(torch.float32), iou_threshold)
    return kept, cleaned[kept], boxes[kept]


# --- private -------------------------------------------------------------------------------------


def _box_iou(boxes: torch.Tensor) -> torch.Tensor:
    """(N, 4) float xyxy -> (N, N) IoU, torchvision's arithmetic (NaN for two empty boxes)."""
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    top_left = torch.maximum(boxes[:, None, :2], boxes[None, :, :2])
    bottom_right = torch.minimum(boxes[:, None, 2:], boxes[None, :, 2:])
    sides = (bottom_right - top_left).clamp(min=0)
    intersection = sides[..., 0] * sides[..., 1]
    return intersection / (areas[:, None] + areas[None, :] - intersection)


def _greedy_survivors(over_limit: np.ndarray) -> list[int]:
    """(N, N) bool overlaps of items sorted by rank -> the ranks greedy suppression keeps."""
    suppressed = np.zeros(over_limit.shape[0], dtype=bool)
    kept: list[int] = []
    for rank in range(over_limit.shape[0]):
        if not suppressed[rank]:
            kept.append(rank)
            suppressed |= over_limit[rank]
    return kept


def _largest_region(masks: torch.Tensor) -> torch.Tensor:
    """(N, H, W) bool -> each mask's largest 8-connected region; ties: first in raster order."""
    labels = connected_components(masks, 8).flatten(1)
    areas = component_areas(labels.view(masks.shape)).flatten(1)
    # Largest area first, then smallest label: labels are 1 + the raster index of a
    # component's first pixel, below H·W + 1.
    rank = areas * (labels.shape[1] + 1) - labels
    best = rank.argmax(dim=1, keepdim=True)
    return (labels == labels.gather(1, best)).view(masks.shape)


def _shift_by_crop_origin(
    values: object, crop_box: CropBox, argument: str, repeats: int
) -> torch.Tensor:
    """(..., 2·repeats) coordinates (x, y, x, y, ...) + the crop's (x0, y0), in their dtype."""
    checked = _check_coordinates(values, argument, 2 * repeats)
    x0, y0, _, _ = _check_crop_box(crop_box, "crop_box")
    origin = torch.tensor((x0, y0) * repeats, device=checked.device).to(checked.dtype)
    return checked + origin


def _check_real(value: object, argument: str, *, non_negative: bool) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or (non_negative and value < 0)
    ):
        kind = "a finite number >= 0" if non_negative else "a finite number"
        raise InputError(f"{argument}: expected {kind}, got {value!r}")
    return float(value)


def _check_overlap_ratio(value: object, argument: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not 0.0 <= value < 1.0
    ):
        raise InputError(f"{argument}: expected a number in [0, 1), got {value!r}")
    return float(value)


def _check_layer_sides(points_per_side: int, n_layers: int, scale_per_layer: int) -> list[int]:
    """Points per side of each layer; raises if the last layer would have none."""
    sides = [points_per_side // scale_per_layer**layer for layer in range(n_layers + 1)]
    if sides[-1] < 1:
        raise InputError(
            f"points_per_side: crop layer {n_layers} would get {points_per_side} // "
            f"{scale_per_layer}**{n_layers} = 0 points per side; expected points_per_side >= "
            f"{scale_per_layer**n_layers}, or fewer crop layers or a smaller downscale factor"
        )
    return sides


def _check_crop_box(box: object, argument: str) -> CropBox:
    if (
        not isinstance(box, (tuple, list))
        or len(box) != 4
        or any(isinstance(side, bool) or not isinstance(side, int) for side in box)
        or not 0 <= box[0] < box[2]
        or not 0 <= box[1] < box[3]
    ):
        raise InputError(
            f"{argument}: expected four ints (x0, y0, x1, y1) with 0 <= x0 < x1 and "
            f"0 <= y0 < y1, got {box!r}"
        )
    return int(box[0]), int(box[1]), int(box[2]), int(box[3])


def _check_boxes(boxes: object, argument: str) -> torch.Tensor:
    checked = check_float_tensor(boxes, argument, 2, "(N, 4)")
    if checked.shape[1] != 4:
        raise InputError(f"{argument}: expected shape (N, 4), got {tuple(checked.shape)}")
    return checked


def _check_coordinates(values: object, argument: str, last: int) -> torch.Tensor:
    if (
        not isinstance(values, torch.Tensor)
        or values.dtype == torch.bool
        or values.is_complex()
        or values.ndim < 1
        or values.shape[-1] != last
    ):
        raise InputError(
            f"{argument}: expected a real tensor of shape (..., {last}), got {describe(values)}"
        )
    return values


def _check_same_length(
    values: torch.Tensor, reference: torch.Tensor, argument: str, reference_name: str
) -> None:
    if values.shape[0] != reference.shape[0]:
        raise InputError(
            f"{argument}: expected one value per row of {reference_name} "
            f"({reference.shape[0]}), got {values.shape[0]}"
        )
