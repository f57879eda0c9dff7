"""torchvision.ops stand-in: roi_align / RoIAlign (wrapping sam3lib's plain-torch ROI-align,
equal to torchvision's aligned=False, sampling_ratio=-1), and import-only placeholders."""

from . import misc  # noqa: F401
from .roi_align import RoIAlign, roi_align  # noqa: F401


def masks_to_boxes(masks):  # imported by sam3's video / visualisation modules only
    raise NotImplementedError("torchvision stand-in: masks_to_boxes is not provided")


def nms(boxes, scores, iou_threshold):
    raise NotImplementedError("torchvision stand-in: nms is not provided")


def batched_nms(boxes, scores, idxs, iou_threshold):
    raise NotImplementedError("torchvision stand-in: batched_nms is not provided")
