"""A deliberately simple float64 ROI-align, written from torchvision's documented algorithm.

Used as the independent reference for our vectorised ``roi_align`` and plugged into
transformers (whose box path calls torchvision, which cannot be imported here).
Loops over boxes, bins and samples; only meant for tiny feature maps.
"""

from __future__ import annotations

import math

import numpy as np
import torch


def _bilinear(channels: np.ndarray, y: float, x: float) -> np.ndarray:
    height, width = channels.shape[1:]
    if y < -1.0 or y > height or x < -1.0 or x > width:
        return np.zeros(channels.shape[0])
    y, x = max(y, 0.0), max(x, 0.0)
    y_low, x_low = int(y), int(x)
    if y_low >= height - 1:
        y_low = y_high = height - 1
        y = float(y_low)
    else:
        y_high = y_low + 1
    if x_low >= width - 1:
        x_low = x_high = width - 1
        x = float(x_low)
    else:
        x_high = x_low + 1
    ly, lx = y - y_low, x - x_low
    hy, hx = 1.0 - ly, 1.0 - lx
    return (
        hy * hx * channels[:, y_low, x_low]
        + hy * lx * channels[:, y_low, x_high]
        + ly * hx * channels[:, y_high, x_low]
        + ly * lx * channels[:, y_high, x_high]
    )


def reference_roi_align(
    features: torch.Tensor, boxes_xyxy: torch.Tensor, size: int
) -> torch.Tensor:
    """features (B, C, H, W); boxes (B, M, 4) in feature pixels -> (B, M, C, size, size) float64."""
    feats = features.detach().double().numpy()
    boxes = boxes_xyxy.detach().double().numpy()
    batch, num_boxes = boxes.shape[:2]
    out = np.zeros((batch, num_boxes, feats.shape[1], size, size))
    for b in range(batch):
        for m in range(num_boxes):
            x0, y0, x1, y1 = boxes[b, m]
            roi_w, roi_h = max(x1 - x0, 1.0), max(y1 - y0, 1.0)
            bin_w, bin_h = roi_w / size, roi_h / size
            grid_w, grid_h = math.ceil(roi_w / size), math.ceil(roi_h / size)
            for py in range(size):
                for px in range(size):
                    total = np.zeros(feats.shape[1])
                    for iy in range(grid_h):
                        y = y0 + py * bin_h + (iy + 0.5) * bin_h / grid_h
                        for ix in range(grid_w):
                            x = x0 + px * bin_w + (ix + 0.5) * bin_w / grid_w
                            total += _bilinear(feats[b], y, x)
                    out[b, m, :, py, px] = total / max(grid_h * grid_w, 1)
    return torch.from_numpy(out)


def torchvision_style_roi_align(
    features: torch.Tensor, boxes: list[torch.Tensor], output_size: int
) -> torch.Tensor:
    """``torchvision.ops.roi_align(input, boxes_list, output_size)`` signature, for transformers."""
    stacked = torch.stack(boxes)  # transformers passes one (M, 4) tensor per image
    pooled = reference_roi_align(features, stacked, output_size)
    return pooled.flatten(0, 1).to(features.dtype)
