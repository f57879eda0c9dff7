"""SAM 3's video memory attention: the current frame's features attend to themselves and to
the memory bank (earlier frames' memories, then object pointers), which conditions them on the
tracked object before the mask decoder sees them.

Parameter names are transformers' (``Sam3TrackerVideoModel.memory_attention``), so the hub's
``tracker_model.memory_attention.*`` tensors load without renames.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sam3lib.model.config import MemoryAttentionConfig
from sam3lib.model.layers import Attention, LayerNorm, add_residual, merge_heads, split_heads
from sam3lib.model.rope import apply_rope, axial_rope_tables


def rotate_memory_keys(keys: Tensor, rope: tuple[Tensor, Tensor], num_unrotated: int) -> Tensor:
    """RoPE on the spatial keys of a memory bank; the last ``num_unrotated`` keys pass as they are.

    ``keys`` (B, heads, F·G² + P, D): F frames of G² tokens, each rotated by the same (G², D)
    ``rope`` tables (positions restart for every frame), then P unrotated object-pointer tokens.
    """
    batch, heads, length, head_dim = keys.shape
    tokens_per_frame = rope[0].shape[0]
    num_spatial = length - num_unrotated
    if num_unrotated < 0 or num_spatial % tokens_per_frame:
        raise ValueError(
            f"{length} memory tokens less {num_unrotated} pointer tokens is not a whole number "
            f"of {tokens_per_frame}-token frames"
        )
    if num_spatial == 0:
        return keys
    frames = keys[:, :, :num_spatial].reshape(batch, heads, -1, tokens_per_frame, head_dim)
    rotated = apply_rope(frames, *rope).flatten(2, 3)
    if num_unrotated == 0:
        return rotated
    return torch.cat((rotated, keys[:, :, num_spatial:]), dim=2)


class RoPEAttention(Attention):
    """:class:`~sam3lib.model.layers.Attention` with axial RoPE on queries and keys; keys and
    values may come in at another width (``kv_size``: the 64-channel memory)."""

    def forward(  # type: ignore[override]
        self,
        query: Tensor,
        key: Tensor,
        value: Tensor,
        rope: tuple[Tensor, Tensor],
        num_unrotated_keys: int = 0,
    ) -> Tensor:
        """query (B, G², C), key/value (B, F·G² + P, kv_size) -> (B, G², C).

        ``rope`` tables are (G², head_dim); the last ``num_unrotated_keys`` keys are not rotated.
        """
        q = apply_rope(split_heads(self.q_proj(query), self.num_heads), *rope)
        k = split_heads(self.k_proj(key), self.num_heads)
        k = rotate_memory_keys(k, rope, num_unrotated_keys)
        v = split_heads(self.v_proj(value), self.num_heads)
        return self.o_proj(merge_heads(F.scaled_dot_product_attention(q, k, v)))


class MemoryAttentionLayer(nn.Module):
    """Pre-norm block: RoPE self-attention, RoPE cross-attention to the memory, ReLU FFN."""

    def __init__(self, config: MemoryAttentionConfig) -> None:
        super().__init__()
        size, heads = config.hidden_size, config.num_heads
        self.self_attn = RoPEAttention(size, heads, size)
        self.cross_attn_image = RoPEAttention(size, heads, config.memory_channels)
        self.linear1 = nn.Linear(size, config.mlp_dim)
        self.linear2 = nn.Linear(config.mlp_dim, size)
        self.layer_norm1 = LayerNorm(size, eps=config.layer_norm_eps)
        self.layer_norm2 = LayerNorm(size, eps=config.layer_norm_eps)
        self.layer_norm3 = LayerNorm(size, eps=config.layer_norm_eps)

    def forward(
        self,
        x: Tensor,
        memory_keys: Tensor,
        memory: Tensor,
        rope: tuple[Tensor, Tensor],
        num_pointer_tokens: int,
    ) -> Tensor:
        """x (B, G², C); memory_keys = memory + its PE, memory (B, M, memory_channels)."""
        y = self.layer_norm1(x)
        x = add_residual(self.self_attn(y, y, y, rope), x)
        y = self.layer_norm2(x)
        x = add_residual(self.cross_attn_image(y, memory_keys, memory, rope, num_pointer_tokens), x)
        y = self.layer_norm3(x)
        # In place, as layers.FeedForward (whose fc1/fc2 names the hub's keys do not use).
        return add_residual(self.linear2(torch.relu_(self.linear1(y))), x)


class MemoryAttention(nn.Module):
    """Conditions one frame's features on a memory bank (SAM 3: 4 layers, width 256, 1 head).

    Example:
        >>> from sam3lib.model.config import MemoryAttentionConfig
        >>> attention = MemoryAttention(MemoryAttentionConfig(num_layers=1, mlp_dim=32))
        >>> grid, frames, pointers = 4, 2, 4
        >>> current = torch.randn(1, grid**2, 256)
        >>> memory = torch.randn(1, frames * grid**2 + pointers, 64)
        >>> attention(current, torch.randn_like(current), memory, torch.randn_like(memory),
        ...           num_pointer_tokens=pointers, grid_size=grid).shape
        torch.Size([1, 16, 256])
    """

    def __init__(self, config: MemoryAttentionConfig) -> None:
        super().__init__()
        self.config = config
        self.layers = nn.ModuleList(MemoryAttentionLayer(config) for _ in range(config.num_layers))
        self.layer_norm = LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(
        self,
        current: Tensor,
        current_pos: Tensor,
        memory: Tensor,
        memory_pos: Tensor,
        num_pointer_tokens: int,
        grid_size: int,
    ) -> Tensor:
        """The current frame's features conditioned on the memory bank.

        Args:
            current: (B, G², C) the frame's features, tokens in row-major order (B = objects).
            current_pos: (B, G², C) their sine position encoding (enters scaled by 0.1).
            memory: (B, F·G² + P, memory_channels): F spatial memories of G² tokens each
                (row-major, same grid as ``current``), then P object-pointer tokens.
            memory_pos: (B, F·G² + P, memory_channels) the memory's position (+ temporal)
                encoding, added to the keys only.
            num_pointer_tokens: P, the trailing tokens RoPE leaves unrotated.
            grid_size: G.

        Returns:
            (B, G², C), after the final LayerNorm.
        """
        if current.shape[1] != grid_size**2:
            raise ValueError(f"expected {grid_size}² tokens, got {current.shape[1]}")
        cfg = self.config
        x = current + cfg.input_position_weight * current_pos
        rope = axial_rope_tables(grid_size, cfg.head_dim, cfg.rope_theta, 1.0, current.device)
        memory_keys = memory + memory_pos  # the same for every layer
        for layer in self.layers:
            x = layer(x, memory_keys, memory, rope, num_pointer_tokens)
        return self.layer_norm(x)
