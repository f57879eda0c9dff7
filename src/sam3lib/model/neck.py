"""FPN neck: the ViT's single-scale map turned into a feature pyramid.

SAM 3 has two, same architecture, own weights: the detector's and the interactive head's.
"""

from __future__ import annotations

from torch import Tensor, nn

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
    """Builds every level in the checkpoint, runs only the three with scale >= 1.

    The ×0.5 level exists in the published weights of both necks so it loads, but neither
    head reads it (Meta computes and drops it): computing it would be wasted work.
    """

    def __init__(
        self, in_channels: int, out_channels: int, scale_factors: tuple[float, ...]
    ) -> None:
        super().__init__()
        self.fpn_layers = nn.ModuleList(
            FPNLevel(in_channels, out_channels, scale) for scale in scale_factors
        )
        scales = scale_factors
        self.used_levels = sorted(
            (i for i, scale in enumerate(scales) if scale >= 1.0), key=lambda i: -scales[i]
        )

    def forward(self, backbone_map: Tensor) -> list[Tensor]:
        """(B, C, G, G) -> levels with scale >= 1, finest first."""
        return [self.fpn_layers[i](backbone_map) for i in self.used_levels]
