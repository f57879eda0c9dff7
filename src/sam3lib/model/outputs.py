"""Typed containers passed between the model's three entry points.

NamedTuples of tensors: they are what every backend (eager, AMP, ONNX Runtime, TensorRT)
consumes and produces, and they flatten to plain graph inputs/outputs on export.
"""

from __future__ import annotations

from typing import NamedTuple

from torch import Tensor


class ImageFeatures(NamedTuple):
    """Output of ``encode_image``; G is the token grid (72 for SAM 3), C the detector width."""

    fpn_x4: Tensor  #: (B, C, 4G, 4G) finest FPN level
    fpn_x2: Tensor  #: (B, C, 2G, 2G)
    fpn_x1: Tensor  #: (B, C, G, G)
    pos_x1: Tensor  #: (B, C, G, G) sine position encoding of ``fpn_x1``

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
