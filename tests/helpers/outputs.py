"""Comparisons of raw detector outputs shared by the backend tests."""

from __future__ import annotations

import torch

from sam3lib.model import Sam3Outputs


def detection_scores(outputs: Sam3Outputs) -> torch.Tensor:
    """(B, Q) score of each query: σ(query logit) · σ(presence logit)."""
    return outputs.query_logits.sigmoid() * outputs.presence_logit.sigmoid()[:, None]


def mask_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-query IoU of thresholded (B, Q, H, W) mask logits."""
    a, b = a > 0, b > 0
    return (a & b).sum((-2, -1)) / (a | b).sum((-2, -1)).clamp(min=1)
