"""Post-processing of SAM 3 outputs: pure torch functions, on any device.

- :mod:`~sam3lib.postprocess.selection`: detection scores and which queries to keep;
- :mod:`~sam3lib.postprocess.masks`: mask logits -> binary masks at the image's size;
- :mod:`~sam3lib.postprocess.boxes`: pixel boxes, mask IoU and mask NMS;
- :mod:`~sam3lib.postprocess.components`: connected components and their areas;
- :mod:`~sam3lib.postprocess.refine`: hole filling, speck removal, edge smoothing;
- :mod:`~sam3lib.postprocess.pipeline`: their composition, as ``Segmenter.segment`` runs it.
"""

from sam3lib.postprocess.boxes import boxes_from_masks, boxes_to_pixels, mask_iou, mask_nms
from sam3lib.postprocess.components import Connectivity, component_areas, connected_components
from sam3lib.postprocess.masks import MaskOrder, upsample_masks
from sam3lib.postprocess.pipeline import PostprocessOptions, Refine, instances
from sam3lib.postprocess.refine import (
    MaskRefinement,
    MaskStep,
    compose,
    fill_holes,
    refine_edges,
    remove_small_regions,
)
from sam3lib.postprocess.selection import detection_scores, select_detections

__all__ = [
    "Connectivity",
    "MaskOrder",
    "MaskRefinement",
    "MaskStep",
    "PostprocessOptions",
    "Refine",
    "boxes_from_masks",
    "boxes_to_pixels",
    "component_areas",
    "compose",
    "connected_components",
    "detection_scores",
    "fill_holes",
    "instances",
    "mask_iou",
    "mask_nms",
    "refine_edges",
    "remove_small_regions",
    "select_detections",
    "upsample_masks",
]
