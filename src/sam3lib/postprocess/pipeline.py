"""From raw detector outputs to instances: the composition ``Segmenter.segment`` runs.

Scores -> selection (threshold, top-k) -> masks upsampled to the image -> pixel boxes ->
optional mask NMS -> optional refinement (any ``MaskStep``, e.g. a :class:`MaskRefinement`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

import torch
from torch import Tensor

from sam3lib.errors import InputError
from sam3lib.model.outputs import Sam3Outputs
from sam3lib.postprocess._checks import check_int, check_unit_interval, describe
from sam3lib.postprocess.boxes import boxes_to_pixels, mask_nms
from sam3lib.postprocess.masks import MaskOrder, upsample_masks
from sam3lib.postprocess.refine import MaskRefinement, MaskStep
from sam3lib.postprocess.selection import detection_scores, select_detections

#: ``refine=`` takes a pipeline object, any masks -> masks function, or a level (0-5).
Refine: TypeAlias = MaskRefinement | MaskStep | int | None

_MASK_ORDERS = ("meta", "transformers")


@dataclass(frozen=True)
class PostprocessOptions:
    """The checked post-processing arguments of one ``Segmenter.segment`` call.

    See :meth:`sam3lib.Segmenter.segment` for what each one means.
    """

    threshold: float
    mask_threshold: float
    top_k: int | None
    nms_iou: float | None
    refine: MaskStep | None
    mask_order: MaskOrder

    @classmethod
    def check(
        cls,
        threshold: object,
        mask_threshold: object,
        top_k: object,
        nms_iou: object,
        refine: object,
        mask_order: object,
    ) -> PostprocessOptions:
        if mask_order not in _MASK_ORDERS:
            raise InputError(f"mask_order: expected 'meta' or 'transformers', got {mask_order!r}")
        return cls(
            threshold=check_unit_interval(threshold, "threshold"),
            mask_threshold=check_unit_interval(mask_threshold, "mask_threshold"),
            top_k=None if top_k is None else check_int(top_k, "top_k", minimum=1),
            nms_iou=None if nms_iou is None else check_unit_interval(nms_iou, "nms_iou"),
            refine=_refinement(refine),
            mask_order=mask_order,  # type: ignore[arg-type]
        )


def instances(
    outputs: Sam3Outputs, index: int, size: tuple[int, int], options: PostprocessOptions
) -> tuple[Tensor, Tensor, Tensor]:
    """Raw outputs of (image, prompt) pair ``index`` -> the kept instances at ``size`` (H, W).

    Returns:
        (N, H, W) bool masks, (N, 4) float32 xyxy pixel boxes and (N,) float32 scores, by
        descending score, on the outputs' device.
    """
    scores = detection_scores(outputs.query_logits[index], outputs.presence_logit[index])
    keep = select_detections(scores, options.threshold, options.top_k)
    masks = upsample_masks(
        outputs.mask_logits[index, keep],
        size,
        mask_threshold=options.mask_threshold,
        order=options.mask_order,
    )
    boxes = boxes_to_pixels(outputs.boxes_xyxy[index, keep], size)
    scores = scores[keep]
    if options.nms_iou is not None:
        kept = mask_nms(masks, scores, options.nms_iou)
        masks, boxes, scores = masks[kept], boxes[kept], scores[kept]
    if options.refine is not None:
        refined = options.refine(masks)
        if not (
            isinstance(refined, Tensor)
            and refined.dtype == torch.bool
            and refined.shape == masks.shape
        ):
            raise InputError(
                f"refine: the function returned {describe(refined)}; it must return the "
                f"{tuple(masks.shape)} bool tensor of masks it is given, cleaned"
            )
        masks = refined
    return masks, boxes.float(), scores.float()


def _refinement(refine: object) -> MaskStep | None:
    if refine is None:
        return None
    if isinstance(refine, int) and not isinstance(refine, bool):
        try:
            return MaskRefinement.from_level(refine)
        except InputError as error:
            raise InputError(f"refine: {error}") from error
    if callable(refine):
        return refine
    raise InputError(
        "refine: expected a MaskRefinement, a level 0-5 or a function of (N, H, W) bool "
        f"masks; got {type(refine).__name__}"
    )
