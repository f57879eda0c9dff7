"""CLIP-style causal text transformer; every token state is kept for the detector."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sam3lib.model.config import TextConfig
from sam3lib.model.layers import FeedForward, LayerNorm, merge_heads, split_heads


class CausalSelfAttention(nn.Module):
    def __init__(self, config: TextConfig) -> None:
        super().__init__()
        self.num_heads = config.num_heads
        size = config.hidden_size
        self.q_proj = nn.Linear(size, size)
        self.k_proj = nn.Linear(size, size)
        self.v_proj = nn.Linear(size, size)
        self.out_proj = nn.Linear(size, size)

    def forward(self, x: Tensor) -> Tensor:
        q = split_heads(self.q_proj(x), self.num_heads)
        k = split_heads(self.k_proj(x), self.num_heads)
        v = split_heads(self.v_proj(x), self.num_heads)
        # Causal masking alone suffices: padding only ever follows the real tokens, so no real
        # token can see it, and padded positions are masked by every consumer downstream.
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.out_proj(merge_heads(out))


class TextLayer(nn.Module):
    def __init__(self, config: TextConfig) -> None:
        super().__init__()
        self.layer_norm1 = LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.self_attn = CausalSelfAttention(config)
        self.layer_norm2 = LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.mlp = FeedForward(config.hidden_size, config.intermediate_size, "gelu")

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.self_attn(self.layer_norm1(x))
        return x + self.mlp(self.layer_norm2(x))


class TextEmbeddings(nn.Module):
    def __init__(self, config: TextConfig) -> None:
        super().__init__()
        self.token_embedding = nn.Embedding(config.vocab_size, config.hidden_size)
        self.position_embedding = nn.Embedding(config.context_length, config.hidden_size)

    def forward(self, token_ids: Tensor) -> Tensor:
        length = token_ids.shape[1]
        return self.token_embedding(token_ids) + self.position_embedding.weight[:length]


class TextEncoderStack(nn.Module):
    """Holds ``layers`` under ``encoder`` so parameter names follow the published layout."""

    def __init__(self, config: TextConfig) -> None:
        super().__init__()
        self.layers = nn.ModuleList(TextLayer(config) for _ in range(config.num_layers))


class TextTransformer(nn.Module):
    def __init__(self, config: TextConfig) -> None:
        super().__init__()
        self.embeddings = TextEmbeddings(config)
        self.encoder = TextEncoderStack(config)
        self.final_layer_norm = LayerNorm(config.hidden_size, eps=config.layer_norm_eps)

    def forward(self, token_ids: Tensor) -> Tensor:
        x = self.embeddings(token_ids)
        for layer in self.encoder.layers:
            x = layer(x)
        return self.final_layer_norm(x)


class TextEncoder(nn.Module):
    """(N, L) token ids -> (N, L, hidden) token states after the final LayerNorm."""

    def __init__(self, config: TextConfig) -> None:
        super().__init__()
        self.text_model = TextTransformer(config)
        # CLIP's pooled-embedding projection ships in the checkpoint; SAM 3 never uses it.
        self.text_projection = nn.Linear(
            config.hidden_size, config.clip_projection_size, bias=False
        )

    def forward(self, token_ids: Tensor) -> Tensor:
        return self.text_model(token_ids.to(torch.long))
