"""The video tracker's memory encoder: one object's mask on a frame + the frame's features ->
the memory that later frames attend to.

Two steps, as in Meta's tracker (``Sam3TrackerBase._encode_new_memory`` then
``SimpleMaskEncoder``):

1. :func:`memory_mask_input`, a pure function: the predicted mask logits, at whatever size they
   have, are binarised (``> 0``, frames with clicks) or squashed by a sigmoid, scaled to
   ``mask · 20 − 10`` and only then resized (bilinear, antialiased) to 16 × the feature grid.
   transformers resizes the logits first (``SAM3_TRACKER_FACTS.md`` §5 #3); we follow Meta.
2. :class:`MemoryEncoder`: that mask downsampled by strided convolutions back to the grid,
   added to a 1×1 projection of the features, two ConvNeXt blocks, a 1×1 projection to the
   64 memory channels, and the sine position encoding of the result.

Its parts carry transformers' ``Sam3TrackerVideoModel.memory_encoder`` names
(``tracker_model.memory_encoder.*`` in the hub checkpoint). The "object absent" embedding Meta
adds to the memory afterwards belongs to the tracker, not here.
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sam3lib.model.config import MemoryEncoderConfig
from sam3lib.model.layers import LayerNorm, pointwise_conv, sine_position_grid
from sam3lib.model.prompt_encoder import LayerNorm2d


def memory_mask_input(
    mask_logits: Tensor, grid_size: int, *, binarize: bool, config: MemoryEncoderConfig
) -> Tensor:
    """Mask logits at any size -> the mask input of :class:`MemoryEncoder`, in Meta's order.

    Args:
        mask_logits: (B, 1, H, W) predicted mask logits (Meta: 1008², the model's input size;
            a mask prompt enters as its ``mask · 20 − 10`` logits). A non-square mask is
            stretched to the square grid, as Meta does.
        grid_size: G, the feature grid the memory is computed on (72 for SAM 3).
        binarize: Meta's ``is_mask_from_pts``, the caller's decision: True for frames the
            user prompted (a step with clicks or a box; the predictor's re-encoding of every
            interacted frame), ``logits > 0``; False for tracked frames and the text-video
            memory writes, ``sigmoid(logits)``.
        config: gives the scale and bias (``mask · 20 − 10``) and the stride (16).

    Returns:
        (B, 1, 16G, 16G) float32, in [bias, scale + bias]: binarised/sigmoid, then scaled,
        then resized bilinearly with antialiasing (skipped when the size already matches).

    Example:
        >>> config = MemoryEncoderConfig()
        >>> logits = torch.full((1, 1, 1008, 1008), 3.0)
        >>> memory_mask_input(logits, 72, binarize=True, config=config).unique()
        tensor([10.])
    """
    logits = mask_logits.float()
    mask = (logits > 0).float() if binarize else torch.sigmoid(logits)
    mask = mask * config.mask_scale + config.mask_bias
    size = grid_size * config.mask_stride
    if mask.shape[-2:] != (size, size):
        mask = F.interpolate(
            mask, size=(size, size), mode="bilinear", align_corners=False, antialias=True
        )
    return mask


class MaskDownsamplerLayer(nn.Module):
    """Conv k3 s2 p1 (halves the mask), LayerNorm over channels, GELU."""

    def __init__(self, in_channels: int, out_channels: int, eps: float) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=2, padding=1)
        self.layer_norm = LayerNorm2d(out_channels, eps=eps)

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(self.layer_norm(self.conv(x)))


class MaskDownsampler(nn.Module):
    """(B, 1, 16G, 16G) mask input -> (B, C, G, G): 1→4→16→64→256 channels, then a 1×1."""

    def __init__(self, config: MemoryEncoderConfig) -> None:
        super().__init__()
        widths = (1, *config.downsampler_channels)
        self.layers = nn.ModuleList(
            MaskDownsamplerLayer(c_in, c_out, config.layer_norm_eps)
            for c_in, c_out in itertools.pairwise(widths)
        )
        self.final_conv = nn.Conv2d(widths[-1], config.hidden_size, kernel_size=1)

    def forward(self, mask: Tensor) -> Tensor:
        for layer in self.layers:
            mask = layer(mask)
        return pointwise_conv(mask, self.final_conv)


class ConvNeXtBlock(nn.Module):
    """``x + scale · pw2(GELU(pw1(LN(dwconv(x)))))``; LN and the pointwise layers act on each
    cell's channels (channels-last), the depthwise conv on each channel's map."""

    def __init__(self, config: MemoryEncoderConfig) -> None:
        super().__init__()
        width, kernel = config.hidden_size, config.fuser_kernel_size
        self.depthwise_conv = nn.Conv2d(
            width, width, kernel_size=kernel, padding=kernel // 2, groups=width
        )
        self.layer_norm = LayerNorm(width, eps=config.layer_norm_eps)
        self.pointwise_conv1 = nn.Linear(width, config.fuser_mlp_ratio * width)
        self.pointwise_conv2 = nn.Linear(config.fuser_mlp_ratio * width, width)
        self.scale = nn.Parameter(torch.full((width,), config.layer_scale_init))

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, G, G) -> (B, C, G, G)."""
        update = self.layer_norm(self.depthwise_conv(x).permute(0, 2, 3, 1))
        update = self.pointwise_conv2(F.gelu(self.pointwise_conv1(update)))
        return x + (self.scale * update).permute(0, 3, 1, 2)


class MemoryFuser(nn.Module):
    """ConvNeXt blocks over the features + downsampled mask."""

    def __init__(self, config: MemoryEncoderConfig) -> None:
        super().__init__()
        self.layers = nn.ModuleList(ConvNeXtBlock(config) for _ in range(config.fuser_layers))

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x)
        return x


class MemoryEncoder(nn.Module):
    """One frame's tracker features + one object's mask input -> its memory and memory PE.

    Example:
        >>> config = MemoryEncoderConfig()
        >>> encoder = MemoryEncoder(config)  # weights: transformers' memory_encoder.* names
        >>> features = torch.zeros(1, 256, 8, 8)
        >>> mask = memory_mask_input(torch.zeros(1, 1, 112, 112), 8, binarize=True, config=config)
        >>> memory, memory_pos = encoder(features, mask)
        >>> memory.shape, memory_pos.shape
        (torch.Size([1, 64, 8, 8]), torch.Size([1, 64, 8, 8]))
    """

    def __init__(self, config: MemoryEncoderConfig) -> None:
        super().__init__()
        self.config = config
        self.mask_downsampler = MaskDownsampler(config)
        self.feature_projection = nn.Conv2d(config.hidden_size, config.hidden_size, kernel_size=1)
        self.memory_fuser = MemoryFuser(config)
        self.projection = nn.Conv2d(config.hidden_size, config.memory_channels, kernel_size=1)

    def forward(self, features: Tensor, mask_input: Tensor) -> tuple[Tensor, Tensor]:
        """Encode B objects' memories (one frame's features per object).

        Args:
            features: (B, C, G, G) the frame's coarsest tracker-neck level, without the
                "no memory" embedding (Meta's ``pix_feat``, before memory attention).
            mask_input: (B, 1, 16G, 16G) from :func:`memory_mask_input`; cast to the
                features' dtype.

        Returns:
            memory (B, M, G, G) and its sine position encoding (B, M, G, G), M = 64, the
            latter a broadcast view of one (1, M, G, G) map.
        """
        batch, _, grid, _ = features.shape
        expected = grid * self.config.mask_stride
        if mask_input.shape[-2:] != (expected, expected):
            raise ValueError(
                f"mask input {tuple(mask_input.shape)} does not match the {grid}² feature "
                f"grid: it must be {expected}² (see memory_mask_input)"
            )
        fused = pointwise_conv(features, self.feature_projection)
        fused = fused + self.mask_downsampler(mask_input.to(features.dtype))
        memory = pointwise_conv(self.memory_fuser(fused), self.projection)
        channels = self.config.memory_channels
        memory_pos = sine_position_grid(grid, grid, channels // 2, memory.device)
        return memory, memory_pos.to(memory.dtype).expand(batch, -1, -1, -1)
