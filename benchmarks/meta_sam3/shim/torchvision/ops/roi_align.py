"""torchvision.ops.roi_align stand-in.

Supports exactly what Meta's SAM 3 geometry encoder calls:
``roi_align(input, boxes, output_size)`` with ``boxes`` a list/tuple of per-image (M, 4) xyxy
tensors, all with the same M, ``spatial_scale=1``, ``sampling_ratio=-1`` (adaptive), and
``aligned=False``. It delegates to ``sam3lib.model.roi_align.roi_align``, a plain-torch
implementation equal to torchvision's for that configuration. Any other option raises.
"""

from __future__ import annotations

import torch
from torch import nn

from sam3lib.model.roi_align import roi_align as _sam3lib_roi_align


def roi_align(
    input: torch.Tensor,
    boxes,
    output_size,
    spatial_scale: float = 1.0,
    sampling_ratio: int = -1,
    aligned: bool = False,
) -> torch.Tensor:
    if aligned:
        raise NotImplementedError("torchvision stand-in: roi_align(aligned=True) not provided")
    if sampling_ratio != -1:
        raise NotImplementedError("torchvision stand-in: only sampling_ratio=-1 is provided")
    if spatial_scale != 1.0:
        raise NotImplementedError("torchvision stand-in: only spatial_scale=1 is provided")
    if isinstance(output_size, (tuple, list)):
        if len(output_size) != 2 or output_size[0] != output_size[1]:
            raise NotImplementedError("torchvision stand-in: only square output_size")
        output_size = int(output_size[0])
    if isinstance(boxes, torch.Tensor):
        raise NotImplementedError(
            "torchvision stand-in: boxes as one (K, 5) tensor not provided; pass a list"
        )
    boxes = list(boxes)
    if len(boxes) != input.shape[0]:
        raise ValueError("one box tensor per image is expected")
    if len({int(b.shape[0]) for b in boxes}) > 1:
        raise NotImplementedError("torchvision stand-in: images with different box counts")
    stacked = torch.stack([b.to(torch.float32) for b in boxes])  # (B, M, 4)
    pooled = _sam3lib_roi_align(input, stacked, int(output_size))  # (B, M, C, S, S)
    return pooled.flatten(0, 1)  # torchvision layout: (B * M, C, S, S), image-major


class RoIAlign(nn.Module):
    def __init__(self, output_size, spatial_scale, sampling_ratio, aligned=False):
        super().__init__()
        self.output_size = output_size
        self.spatial_scale = spatial_scale
        self.sampling_ratio = sampling_ratio
        self.aligned = aligned

    def forward(self, input, rois):
        return roi_align(
            input, rois, self.output_size, self.spatial_scale, self.sampling_ratio, self.aligned
        )
