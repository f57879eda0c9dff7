"""Mask head: prompt-aware pixel decoder, per-query instance masks and a semantic mask."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sam3lib.model.config import MaskHeadConfig
from sam3lib.model.layers import (
    Attention,
    GroupNorm,
    LayerNorm,
    key_padding_mask,
    pointwise_conv,
)


class PixelDecoder(nn.Module):
    """Top-down FPN: upsample (nearest ×2), add the finer level, conv3×3 + GroupNorm + ReLU.

    The convolution is linear, ``conv(up(x) + level) = conv(up(x)) + conv(level)``, and only
    ``x`` depends on the prompt: :meth:`project_levels` convolves the levels once per image,
    and per prompt :func:`conv_of_upsampled` convolves ``x`` at its own, coarser resolution.

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

    def project_levels(self, finer_levels: list[Tensor]) -> list[Tensor]:
        """FPN levels finer than the grid, coarse to fine -> ``conv(level)`` (bias included)."""
        return [conv(level) for conv, level in zip(self.conv_layers, finer_levels, strict=False)]

    def forward(self, coarsest: Tensor, projected_levels: list[Tensor]) -> Tensor:
        """``projected_levels`` from :meth:`project_levels`; batch 1 broadcasts against
        ``coarsest``. Each level is twice the size of the one before.

        The finest stage's maps are 85 MB each at full size, so each stage works in one float32
        buffer (the normalisation too, as :class:`GroupNorm` would in float32): the decoder's
        peak memory is one map plus the mask logits rather than three maps.
        """
        x = coarsest
        for conv, norm, projected in zip(
            self.conv_layers, self.norms, projected_levels, strict=False
        ):
            assert isinstance(conv, nn.Conv2d) and isinstance(norm, nn.GroupNorm)
            x = add_conv_of_upsampled(projected, x, conv.weight)
            x = torch.relu_(group_norm_(x, norm))
        return x


def add_conv_of_upsampled(projected: Tensor, x: Tensor, weight: Tensor) -> Tensor:
    """``projected + conv2d(upsample_nearest_2x(x), weight, padding=1)`` for a 3×3 ``weight``,
    as a new float32 tensor, computed without the upsampled map.

    Output pixel (2i + p, 2j + q) reads upsampled rows 2i + p - 1 .. 2i + p + 1, which are
    input rows (i - 1, i, i) for p = 0 and (i, i, i + 1) for p = 1 (columns alike). So each of
    the four parities (p, q) is a 2×2 convolution of ``x`` with the taps that land on the same
    input pixel summed: 16 products per input pixel instead of 36.

    Args:
        projected: (B or 1, C_out, 2H, 2W).
        x: (B, C_in, H, W).
    """
    channels, height, width = projected.shape[1:]
    if (height, width) != (2 * x.shape[-2], 2 * x.shape[-1]):
        raise ValueError(f"a {height}×{width} level after a {tuple(x.shape[-2:])} map")
    out = projected.expand(x.shape[0], -1, -1, -1).to(torch.float32, copy=True)
    by_parity = out.view(-1, channels, height // 2, 2, width // 2, 2)
    # fold[p][a, k]: kernel row k reads input row a of the parity-p window.
    fold = (
        weight.new_tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]]),
        weight.new_tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]]),
    )
    pads = ((1, 0), (0, 1))  # the window of parity 0 starts a row above, that of 1 at the row
    for p in (0, 1):
        for q in (0, 1):
            kernel = torch.einsum("ak,oikl,bl->oiab", fold[p], weight, fold[q])
            by_parity[:, :, :, p, :, q] += F.conv2d(F.pad(x, (*pads[q], *pads[p])), kernel)
    return out


def group_norm_(x: Tensor, norm: nn.GroupNorm) -> Tensor:
    """``norm(x)`` written over ``x`` (float32, contiguous), as ``x · scale + shift`` per
    (image, channel) with scale = γ / σ of the channel's group and shift = β − mean · scale."""
    batch, channels = x.shape[:2]
    groups = x.view(batch, norm.num_groups, -1)
    var, mean = torch.var_mean(groups, dim=-1, correction=0)  # (B, G)
    rstd = torch.rsqrt(var + norm.eps).repeat_interleave(channels // norm.num_groups, dim=1)
    scale = rstd * norm.weight.float()  # (B, C)
    shift = norm.bias.float() - mean.repeat_interleave(channels // norm.num_groups, dim=1) * scale
    flat = x.view(batch, channels, -1)
    return flat.mul_(scale[..., None]).add_(shift[..., None]).view_as(x)


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
        projected_levels: list[Tensor],
        prompt: Tensor,
        prompt_mask: Tensor,
    ) -> tuple[Tensor, Tensor]:
        """
        Args:
            queries: (B, Q, C) decoder query states.
            fused_image: (B, h*w, C) fusion-encoder output; grid_hw its (h, w).
            projected_levels: ``pixel_decoder.project_levels`` of the FPN levels finer than
                the grid, coarse to fine, batch B or 1.
            prompt: (B, L, C) with validity mask (B, L).

        Returns:
            instance mask logits (B, Q, H, W) and semantic logits (B, 1, H, W) at the finest level.
        """
        normed = self.prompt_cross_attn_norm(fused_image)
        attended = self.prompt_cross_attn(normed, prompt, prompt, key_padding_mask(prompt_mask))
        fused_image = fused_image + attended
        batch, _, channels = fused_image.shape
        coarsest = fused_image.transpose(1, 2).reshape(batch, channels, *grid_hw)
        pixels = self.pixel_decoder(coarsest, projected_levels)
        return self._instance_logits(queries, pixels), pointwise_conv(
            pixels, self.semantic_projection
        )

    def _instance_logits(self, queries: Tensor, pixels: Tensor) -> Tensor:
        """``embed(q) · (W p + b)`` for every query q and pixel p, as ``(embed(q) W) · p +
        embed(q) · b``: the 1×1 projection moves from the 288² pixel map to the queries."""
        embeddings = self.mask_embedder(queries)  # (B, Q, C)
        weight = self.instance_projection.weight.flatten(1)  # (C out, C in)
        bias = self.instance_projection.bias
        logits = torch.baddbmm(
            (embeddings @ bias)[..., None], embeddings @ weight, pixels.flatten(2)
        )
        return logits.view(*embeddings.shape[:2], *pixels.shape[-2:])


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
