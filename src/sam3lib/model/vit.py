"""ViT backbone: patch embedding, tiled absolute positions, windowed/global RoPE attention."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sam3lib.model.config import VisionConfig
from sam3lib.model.layers import FeedForward, LayerNorm, add_residual, merge_heads, split_heads
from sam3lib.model.rope import apply_rope, axial_rope_tables


class PatchEmbeddings(nn.Module):
    def __init__(self, config: VisionConfig) -> None:
        super().__init__()
        self.projection = nn.Conv2d(
            config.num_channels,
            config.hidden_size,
            kernel_size=config.patch_size,
            stride=config.patch_size,
            bias=False,
        )

    def forward(self, pixels: Tensor) -> Tensor:
        """(B, 3, S, S) -> (B, G, G, C)."""
        return self.projection(pixels).permute(0, 2, 3, 1)


class ViTEmbeddings(nn.Module):
    """Patch embedding plus the learned position grid, tiled (not interpolated) to the grid."""

    def __init__(self, config: VisionConfig) -> None:
        super().__init__()
        self.config = config
        self.patch_embeddings = PatchEmbeddings(config)
        # Uninitialised: weights always come from a checkpoint (or a test's own init).
        self.position_embeddings = nn.Parameter(
            torch.empty(1, config.pretrain_grid_size**2, config.hidden_size)
        )

    def forward(self, pixels: Tensor) -> Tensor:
        tokens = self.patch_embeddings(pixels)
        grid, pretrain = self.config.grid_size, self.config.pretrain_grid_size
        table = self.position_embeddings.view(1, pretrain, pretrain, -1)
        repeats = -(-grid // pretrain)
        tiled = table.tile(1, repeats, repeats, 1)[:, :grid, :grid]
        return tokens + tiled


class RoPEAttention(nn.Module):
    """Self-attention over a square token grid with axial RoPE on queries and keys."""

    def __init__(self, config: VisionConfig) -> None:
        super().__init__()
        self.num_heads = config.num_heads
        size = config.hidden_size
        self.q_proj = nn.Linear(size, size)
        self.k_proj = nn.Linear(size, size)
        self.v_proj = nn.Linear(size, size)
        self.o_proj = nn.Linear(size, size)

    def forward(self, x: Tensor, rope: tuple[Tensor, Tensor]) -> Tensor:
        """(N, h, w, C) -> (N, h, w, C); ``rope`` tables match h * w tokens."""
        n, h, w, c = x.shape
        flat = x.reshape(n, h * w, c)
        q = apply_rope(split_heads(self.q_proj(flat), self.num_heads), *rope)
        k = apply_rope(split_heads(self.k_proj(flat), self.num_heads), *rope)
        v = split_heads(self.v_proj(flat), self.num_heads)
        out = merge_heads(F.scaled_dot_product_attention(q, k, v))
        return self.o_proj(out).view(n, h, w, c)


def partition_windows(x: Tensor, window: int) -> Tensor:
    """(B, H, W, C) -> (B * H/window * W/window, window, window, C)."""
    b, h, w, c = x.shape
    x = x.view(b, h // window, window, w // window, window, c)
    return x.permute(0, 1, 3, 2, 4, 5).reshape(-1, window, window, c)


def add_windows(x: Tensor, windows: Tensor) -> Tensor:
    """``x + merged(windows)``, the inverse of :func:`partition_windows` fused into the
    residual sum: one pass over the map instead of a copy and then a sum."""
    b, h, w, c = x.shape
    window = windows.shape[1]
    grid = x.view(b, h // window, window, w // window, window, c)
    merged = windows.view(b, h // window, w // window, window, window, c).permute(0, 1, 3, 2, 4, 5)
    return (grid + merged).view(b, h, w, c)


class ViTLayer(nn.Module):
    """Pre-norm transformer block; windowed unless ``global_attention``."""

    def __init__(self, config: VisionConfig, global_attention: bool) -> None:
        super().__init__()
        self.window_size = 0 if global_attention else config.window_size
        self.layer_norm1 = LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.attention = RoPEAttention(config)
        self.layer_norm2 = LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.mlp = FeedForward(config.hidden_size, config.intermediate_size, "gelu")

    def forward(self, x: Tensor, rope: tuple[Tensor, Tensor]) -> Tensor:
        y = self.layer_norm1(x)
        if self.window_size:
            x = add_windows(x, self.attention(partition_windows(y, self.window_size), rope))
        else:
            x = add_residual(self.attention(y, rope), x)
        return add_residual(self.mlp(self.layer_norm2(x)), x)


class ViTBackbone(nn.Module):
    """(B, 3, S, S) normalised pixels -> (B, C, G, G) token map."""

    def __init__(self, config: VisionConfig) -> None:
        super().__init__()
        self.config = config
        self.embeddings = ViTEmbeddings(config)
        self.layer_norm = LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.layers = nn.ModuleList(
            ViTLayer(config, global_attention=i in config.global_attention_layers)
            for i in range(config.num_layers)
        )

    def forward(self, pixels: Tensor) -> Tensor:
        cfg = self.config
        x = self.layer_norm(self.embeddings(pixels))
        window_rope = axial_rope_tables(
            cfg.window_size, cfg.head_dim, cfg.rope_theta, 1.0, x.device
        )
        global_rope = axial_rope_tables(
            cfg.grid_size, cfg.head_dim, cfg.rope_theta, cfg.window_size / cfg.grid_size, x.device
        )
        for layer in self.layers:
            x = layer(x, window_rope if layer.window_size else global_rope)
        return x.permute(0, 3, 1, 2)
