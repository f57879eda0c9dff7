"""The interactive mask decoder's two-way transformer: prompt tokens and image tokens attend
to each other in turn (SAM's design)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from sam3lib.model.config import TrackerConfig
from sam3lib.model.layers import merge_heads, split_heads


class DownscaledAttention(nn.Module):
    """Multi-head attention whose q/k/v live in a narrower space (hidden / downsample)."""

    def __init__(self, hidden_size: int, num_heads: int, downsample_rate: int = 1) -> None:
        super().__init__()
        inner = hidden_size // downsample_rate
        self.num_heads = num_heads
        self.q_proj = nn.Linear(hidden_size, inner)
        self.k_proj = nn.Linear(hidden_size, inner)
        self.v_proj = nn.Linear(hidden_size, inner)
        self.o_proj = nn.Linear(inner, hidden_size)

    def forward(self, query: Tensor, key: Tensor, value: Tensor) -> Tensor:
        q = split_heads(self.q_proj(query), self.num_heads)
        k = split_heads(self.k_proj(key), self.num_heads)
        v = split_heads(self.v_proj(value), self.num_heads)
        return self.o_proj(merge_heads(F.scaled_dot_product_attention(q, k, v)))


class FeedForward(nn.Module):
    """``num_layers`` Linear layers with ReLU between them (``proj_in``, ``layers``,
    ``proj_out``), optionally a sigmoid at the end: the MLPs of SAM's decoder heads."""

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        output_size: int,
        num_layers: int,
        sigmoid_output: bool = False,
    ) -> None:
        super().__init__()
        self.proj_in = nn.Linear(input_size, hidden_size)
        self.layers = nn.ModuleList(
            nn.Linear(hidden_size, hidden_size) for _ in range(num_layers - 2)
        )
        self.proj_out = nn.Linear(hidden_size, output_size)
        self.sigmoid_output = sigmoid_output

    def forward(self, x: Tensor) -> Tensor:
        x = F.relu(self.proj_in(x))
        for layer in self.layers:
            x = F.relu(layer(x))
        x = self.proj_out(x)
        return x.sigmoid() if self.sigmoid_output else x


class TwoWayBlock(nn.Module):
    """Token self-attention, tokens → image, token MLP, image → tokens; post-norm each."""

    def __init__(self, config: TrackerConfig, skip_first_layer_pe: bool) -> None:
        super().__init__()
        width, heads, rate = config.hidden_size, config.num_heads, config.attention_downsample_rate
        self.self_attn = DownscaledAttention(width, heads)
        self.layer_norm1 = nn.LayerNorm(width)
        self.cross_attn_token_to_image = DownscaledAttention(width, heads, rate)
        self.layer_norm2 = nn.LayerNorm(width)
        self.mlp = FeedForward(width, config.mlp_dim, width, num_layers=2)
        self.layer_norm3 = nn.LayerNorm(width)
        self.layer_norm4 = nn.LayerNorm(width)
        self.cross_attn_image_to_token = DownscaledAttention(width, heads, rate)
        # The first block's tokens already are their own position encoding: SAM adds none and
        # keeps no residual there.
        self.skip_first_layer_pe = skip_first_layer_pe

    def forward(
        self, tokens: Tensor, image: Tensor, tokens_pe: Tensor, image_pe: Tensor
    ) -> tuple[Tensor, Tensor]:
        if self.skip_first_layer_pe:
            tokens = self.self_attn(tokens, tokens, tokens)
        else:
            query = tokens + tokens_pe
            tokens = tokens + self.self_attn(query, query, tokens)
        tokens = self.layer_norm1(tokens)

        image_keys = image + image_pe
        tokens = tokens + self.cross_attn_token_to_image(tokens + tokens_pe, image_keys, image)
        tokens = self.layer_norm2(tokens)
        tokens = self.layer_norm3(tokens + self.mlp(tokens))

        image = image + self.cross_attn_image_to_token(image_keys, tokens + tokens_pe, tokens)
        return tokens, self.layer_norm4(image)


class TwoWayTransformer(nn.Module):
    def __init__(self, config: TrackerConfig) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            TwoWayBlock(config, skip_first_layer_pe=i == 0) for i in range(config.num_layers)
        )
        self.final_attn_token_to_image = DownscaledAttention(
            config.hidden_size, config.num_heads, config.attention_downsample_rate
        )
        self.layer_norm_final_attn = nn.LayerNorm(config.hidden_size)

    def forward(self, tokens: Tensor, image: Tensor, image_pe: Tensor) -> tuple[Tensor, Tensor]:
        """(B, T, C) tokens, (B, HW, C) image tokens and their (B, HW, C) position encoding
        -> updated tokens and image tokens."""
        tokens_pe = tokens
        for layer in self.layers:
            tokens, image = layer(tokens, image, tokens_pe, image_pe)
        attended = self.final_attn_token_to_image(tokens + tokens_pe, image + image_pe, image)
        return self.layer_norm_final_attn(tokens + attended), image
