"""FPN neck: the ViT's single-scale map turned into the detector's feature pyramid."""

from __future__ import annotations

from torch import Tensor, nn

from sam3lib.model.config import VisionConfig
from sam3lib.model.layers import pointwise_conv


class FPNLevel(nn.Module):
    """Resample the backbone map by ``scale`` then project to the FPN width (1×1 then 3×3)."""

    def __init__(self, in_channels: int, out_channels: int, scale: float) -> None:
        super().__init__()
        self.scale = scale
        layers: list[nn.Module]
        if scale == 4.0:
            layers = [
                nn.ConvTranspose2d(in_channels, in_channels // 2, kernel_size=2, stride=2),
                nn.GELU(),
                nn.ConvTranspose2d(in_channels // 2, in_channels // 4, kernel_size=2, stride=2),
            ]
            resampled = in_channels // 4
        elif scale == 2.0:
            layers = [nn.ConvTranspose2d(in_channels, in_channels // 2, kernel_size=2, stride=2)]
            resampled = in_channels // 2
        elif scale == 1.0:
            layers, resampled = [], in_channels
        else:  # 0.5
            layers, resampled = [nn.MaxPool2d(kernel_size=2, stride=2)], in_channels
        self.scale_layers = nn.Sequential(*layers)
        self.proj1 = nn.Conv2d(resampled, out_channels, kernel_size=1)
        self.proj2 = nn.Conv2d(out_channels, out_channels, kernel_size=3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.proj2(pointwise_conv(self.scale_layers(x), self.proj1))


class FPNNeck(nn.Module):
    """Builds every level in the checkpoint, runs only the three the detector reads.

    The ×0.5 level exists in the published weights (it feeds the video tracker) so it loads,
    but computing it would be wasted work for image segmentation.
    """

    def __init__(self, config: VisionConfig) -> None:
        super().__init__()
        self.fpn_layers = nn.ModuleList(
            FPNLevel(config.hidden_size, config.fpn_size, scale)
            for scale in config.fpn_scale_factors
        )
        scales = config.fpn_scale_factors
        self.detector_levels = sorted(
            (i for i, scale in enumerate(scales) if scale >= 1.0), key=lambda i: -scales[i]
        )

    def forward(self, backbone_map: Tensor) -> list[Tensor]:
        """(B, C, G, G) -> levels with scale >= 1, finest first."""
        return [self.fpn_layers[i](backbone_map) for i in self.detector_levels]
