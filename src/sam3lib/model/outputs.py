"""Typed containers passed between the model's three entry points.

NamedTuples of tensors: they are what every backend (eager, AMP, ONNX Runtime, TensorRT)
consumes and produces, and they flatten to plain graph inputs/outputs on export.
"""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor


class ImageFeatures(NamedTuple):
    """Output of ``encode_image``: everything the decoder needs from an image, computed once.

    Besides the coarsest FPN level and its position encoding, this holds the prompt-independent
    parts of the decoder's own work: the finer FPN levels already through the pixel decoder's
    convolutions, and the image tokens after the fusion encoder's first self-attention.
    G is the token grid (72 for SAM 3), C the detector width, C_vit the ViT width.
    """

    pixel_x4: Tensor  #: (B, C, 4G, 4G) finest FPN level after its pixel-decoder conv
    pixel_x2: Tensor  #: (B, C, 2G, 2G) middle FPN level after its pixel-decoder conv
    fpn_x1: Tensor  #: (B, C, G, G) coarsest FPN level
    pos_x1: Tensor  #: (B, C, G, G) sine position encoding of ``fpn_x1``
    attended_x1: Tensor  #: (B, G*G, C) ``fpn_x1`` tokens after the first fusion self-attention
    #: (B, C_vit, G, G) the ViT trunk's output, kept for the interactive head's own neck
    #: (:class:`InteractiveFeatures`); the detector's decode never reads it.
    backbone: Tensor

    @property
    def batch_size(self) -> int:
        return int(self.fpn_x1.shape[0])


class TextFeatures(NamedTuple):
    """Output of ``encode_text``."""

    features: Tensor  #: (N, L, C) projected token states
    mask: Tensor  #: (N, L) bool, True on real tokens


class Sam3Outputs(NamedTuple):
    """Raw detector outputs for B (image, prompt) pairs and Q queries."""

    mask_logits: Tensor  #: (B, Q, 4G, 4G) instance mask logits (288² for SAM 3)
    boxes_xyxy: Tensor  #: (B, Q, 4) boxes normalised to [0, 1]
    query_logits: Tensor  #: (B, Q) match logit of each query
    presence_logit: Tensor  #: (B,) logit that the concept is present at all
    semantic_logits: Tensor  #: (B, 1, 4G, 4G) semantic segmentation logits


class InteractiveFeatures(NamedTuple):
    """What the interactive head needs from an image, computed once per image from the ViT
    trunk output (``ImageFeatures.backbone``) by the tracker's own neck. C is the tracker
    width (256 for SAM 3), G the token grid."""

    high_res_x4: Tensor  #: (B, C/8, 4G, 4G) finest tracker-neck level after ``conv_s0``
    high_res_x2: Tensor  #: (B, C/4, 2G, 2G) middle level after ``conv_s1``
    embedding: Tensor  #: (B, C, G, G) coarsest level plus ``no_memory_embedding``


class InteractiveOutputs(NamedTuple):
    """Raw interactive-head outputs for B prompts (one object each): all four mask tokens."""

    mask_logits: Tensor  #: (B, 4, 4G, 4G) low-resolution mask logits (288² for SAM 3)
    iou_scores: Tensor  #: (B, 4) predicted IoU of each mask
    object_score_logits: Tensor  #: (B, 1) logit that the object is present
