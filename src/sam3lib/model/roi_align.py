"""ROI-align in plain torch, equal to torchvision's ``roi_align(aligned=False)``.

torchvision averages, in each of the S×S bins, a grid of bilinear samples whose size adapts to
the box (``ceil(roi_size / S)`` per axis). Bilinear sampling on a product grid is separable,
so the whole operation is ``A_y · F · A_xᵀ``: per box, an (S, H) and an (S, W) weight matrix
that already hold the sample weights and the average. Shapes stay static (the adaptive grid is
a mask over the largest possible grid), so the op exports to ONNX and runs on any device.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor


def roi_align(features: Tensor, boxes_xyxy: Tensor, output_size: int) -> Tensor:
    """Pool ``output_size``² features per box.

    Args:
        features: (B, C, H, W) feature map.
        boxes_xyxy: (B, M, 4) boxes in feature-map pixels (x0, y0, x1, y1), within the map.
        output_size: bins per side (S).

    Returns:
        (B, M, C, S, S) pooled features.
    """
    height, width = features.shape[-2:]
    x0, y0, x1, y1 = boxes_xyxy.float().unbind(-1)
    weights_y = _axis_weights(y0, y1, height, output_size)  # (B, M, S, H)
    weights_x = _axis_weights(x0, x1, width, output_size)  # (B, M, S, W)
    pooled = torch.einsum(
        "bmsh,bchw,bmtw->bmcst",
        weights_y.to(features.dtype),
        features,
        weights_x.to(features.dtype),
    )
    return pooled


def _axis_weights(start: Tensor, end: Tensor, size: int, bins: int) -> Tensor:
    """(B, M) box edges on one axis -> (B, M, bins, size) averaged bilinear weights."""
    extent = (end - start).clamp(min=1.0)
    bin_size = extent / bins
    # Boxes inside the map need at most ceil(size / bins) samples per bin.
    max_samples = max(math.ceil(size / bins), 1)
    samples = torch.ceil(extent / bins).clamp(1, max_samples)  # (B, M)
    sample_index = torch.arange(max_samples, device=start.device, dtype=torch.float32)
    bin_index = torch.arange(bins, device=start.device, dtype=torch.float32)
    position = (
        start[..., None, None]
        + bin_index[:, None] * bin_size[..., None, None]
        + (sample_index + 0.5) * (bin_size / samples)[..., None, None]
    )  # (B, M, bins, max_samples)
    used = sample_index < samples[..., None, None]
    inside = (position >= -1.0) & (position <= size)
    clamped = position.clamp(min=0.0)
    low = clamped.floor().clamp(max=size - 1)
    at_edge = low >= size - 1
    high = torch.where(at_edge, low, low + 1)
    frac = torch.where(at_edge, torch.zeros_like(clamped), clamped - low)
    cells = torch.arange(size, device=start.device, dtype=torch.float32)
    weight = (low[..., None] == cells) * (1 - frac)[..., None] + (high[..., None] == cells) * frac[
        ..., None
    ]
    weight = weight * (used & inside)[..., None] / samples[..., None, None, None]
    return weight.sum(dim=3)
