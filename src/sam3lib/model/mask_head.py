"""Mask head: prompt-aware pixel decoder, per-query instance masks and a semantic mask."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sam3lib.model.config import MaskHeadConfig
from sam3lib.model.layers import Attention, GroupNorm, LayerNorm, key_padding_mask


class PixelDecoder(nn.Module):
    """Top-down FPN: upsample (nearest ×2), add the finer level, conv3×3 + GroupNorm + ReLU.

    The checkpoint holds ``num_upsampling_stages`` convs; with three FPN levels only the first
    two are reached.
    """

    def __init__(self, config: MaskHeadConfig) -> None:
        super().__init__()
        size = config.hidden_size
        self.conv_layers = nn.ModuleList(
            nn.Conv2d(size, size, kernel_size=3, padding=1)
            for _ in range(config.num_upsampling_stages)
        )
        self.norms = nn.ModuleList(
            GroupNorm(config.group_norm_groups, size, eps=config.layer_norm_eps)
            for _ in range(config.num_upsampling_stages)
        )

    def forward(self, coarsest: Tensor, finer_levels: list[Tensor]) -> Tensor:
        """``finer_levels`` ordered coarse to fine; batch 1 broadcasts against ``coarsest``."""
        x = coarsest
        for conv, norm, level in zip(self.conv_layers, self.norms, finer_levels, strict=False):
            x = F.interpolate(x, size=level.shape[-2:], mode="nearest") + level
            x = F.relu(norm(conv(x)))
        return x


class MaskDecoder(nn.Module):
    def __init__(self, config: MaskHeadConfig) -> None:
        super().__init__()
        size = config.hidden_size
        self.pixel_decoder = PixelDecoder(config)
        self.mask_embedder = QueryMaskEmbedder(size)
        self.instance_projection = nn.Conv2d(size, size, kernel_size=1)
        self.semantic_projection = nn.Conv2d(size, 1, kernel_size=1)
        self.prompt_cross_attn = Attention(size, config.num_heads)
        self.prompt_cross_attn_norm = LayerNorm(size, eps=config.layer_norm_eps)

    def forward(
        self,
        queries: Tensor,
        fused_image: Tensor,
        grid_hw: tuple[int, int],
        finer_levels: list[Tensor],
        prompt: Tensor,
        prompt_mask: Tensor,
    ) -> tuple[Tensor, Tensor]:
        """
        Args:
            queries: (B, Q, C) decoder query states.
            fused_image: (B, h*w, C) fusion-encoder output; grid_hw its (h, w).
            finer_levels: FPN levels finer than the grid, coarse to fine, batch B or 1.
            prompt: (B, L, C) with validity mask (B, L).

        Returns:
            instance mask logits (B, Q, H, W) and semantic logits (B, 1, H, W) at the finest level.
        """
        normed = self.prompt_cross_attn_norm(fused_image)
        attended = self.prompt_cross_attn(normed, prompt, prompt, key_padding_mask(prompt_mask))
        fused_image = fused_image + attended
        batch, _, channels = fused_image.shape
        coarsest = fused_image.transpose(1, 2).reshape(batch, channels, *grid_hw)
        pixels = self.pixel_decoder(coarsest, finer_levels)
        instance = self.instance_projection(pixels)
        mask_logits = torch.einsum("bqc,bchw->bqhw", self.mask_embedder(queries), instance)
        return mask_logits, self.semantic_projection(pixels)


class QueryMaskEmbedder(nn.Module):
    """Three-layer ReLU MLP from query state to mask embedding (``layers.0``..``layers.2``)."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(size, size) for _ in range(3))

    def forward(self, x: Tensor) -> Tensor:
        for index, layer in enumerate(self.layers):
            x = layer(x)
            if index < len(self.layers) - 1:
                x = F.relu(x)
        return x
