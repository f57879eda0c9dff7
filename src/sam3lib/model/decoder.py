"""DETR decoder: learned queries + a presence token, iterative box refinement."""

from __future__ import annotations

import math
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sam3lib.model.config import DecoderConfig
from sam3lib.model.layers import (
    MLP,
    Attention,
    FeedForward,
    LayerNorm,
    box_cxcywh_to_xyxy,
    full_precision,
    inverse_sigmoid,
    key_padding_mask,
    sine_encode,
)


class DecoderLayer(nn.Module):
    """Post-norm: self-attention, prompt cross-attention, image cross-attention (with box
    relative-position bias), FFN. Position embeddings go on queries (and image keys)."""

    def __init__(self, config: DecoderConfig) -> None:
        super().__init__()
        size, heads, eps = config.hidden_size, config.num_heads, config.layer_norm_eps
        self.self_attn = Attention(size, heads)
        self.self_attn_layer_norm = LayerNorm(size, eps=eps)
        self.text_cross_attn = Attention(size, heads)
        self.text_cross_attn_layer_norm = LayerNorm(size, eps=eps)
        self.vision_cross_attn = Attention(size, heads)
        self.vision_cross_attn_layer_norm = LayerNorm(size, eps=eps)
        self.mlp = FeedForward(size, config.intermediate_size, "relu")
        self.mlp_layer_norm = LayerNorm(size, eps=eps)

    def forward(
        self,
        queries: Tensor,
        query_pos: Tensor,
        prompt: Tensor,
        prompt_mask: Tensor,
        image: Tensor,
        image_pos: Tensor,
        box_bias: Tensor,
    ) -> Tensor:
        with_pos = queries + query_pos
        queries = self.self_attn_layer_norm(queries + self.self_attn(with_pos, with_pos, queries))
        attended = self.text_cross_attn(
            queries + query_pos, prompt, prompt, key_padding_mask(prompt_mask)
        )
        queries = self.text_cross_attn_layer_norm(queries + attended)
        attended = self.vision_cross_attn(queries + query_pos, image + image_pos, image, box_bias)
        queries = self.vision_cross_attn_layer_norm(queries + attended)
        return self.mlp_layer_norm(queries + self.mlp(queries))


class DetrDecoder(nn.Module):
    # fp32 islands (see layers.full_precision). Boxes are refined in logit space, where bf16's
    # 8-bit mantissa puts a logit of 4 off by up to 0.016, and each layer's box steers the next
    # layer's attention; the presence logit multiplies every query's score.
    FP32_SUBMODULES: ClassVar[tuple[str, ...]] = ("box_head", "reference_points", "presence_head")

    def __init__(self, config: DecoderConfig) -> None:
        super().__init__()
        size, heads = config.hidden_size, config.num_heads
        self.box_eps = config.box_eps
        self.hidden_size = size
        self.layers = nn.ModuleList(DecoderLayer(config) for _ in range(config.num_layers))
        self.output_layer_norm = LayerNorm(size, eps=config.layer_norm_eps)
        self.box_head = MLP(size, size, 4, 3)
        self.query_embed = nn.Embedding(config.num_queries, size)
        self.reference_points = nn.Embedding(config.num_queries, 4)
        self.presence_token = nn.Embedding(1, size)
        self.presence_head = MLP(size, size, 1, 3)
        self.presence_layer_norm = LayerNorm(size, eps=config.layer_norm_eps)
        self.ref_point_head = MLP(2 * size, size, size, 2)
        self.box_rpb_embed_x = MLP(2, size, heads, 2)
        self.box_rpb_embed_y = MLP(2, size, heads, 2)

    def forward(
        self,
        image: Tensor,
        image_pos: Tensor,
        grid_hw: tuple[int, int],
        prompt: Tensor,
        prompt_mask: Tensor,
    ) -> tuple[Tensor, Tensor, Tensor]:
        """
        Args:
            image: (B, HW, C) fused image tokens; image_pos: (B or 1, HW, C).
            grid_hw: the (h, w) of the token grid.
            prompt: (B, L, C) prompt tokens with validity mask (B, L).

        Returns:
            query states after the output norm (B, Q, C), boxes cxcywh in [0, 1] (B, Q, 4),
            presence logit (B,) — not clamped (Meta's semantics).
        """
        batch = image.shape[0]
        queries = self.query_embed.weight[None].expand(batch, -1, -1)
        tokens = torch.cat((self.presence_token.weight[None].expand(batch, -1, -1), queries), 1)
        boxes = self.reference_points.weight.sigmoid()[None].expand(batch, -1, -1)
        normed = tokens[:, 1:]
        for layer in self.layers:
            # The presence token (index 0) gets no position and no box bias.
            query_pos = F.pad(self.ref_point_head(self._encode_boxes(boxes)), (0, 0, 1, 0))
            box_bias = self._box_bias(boxes, grid_hw)
            tokens = layer(tokens, query_pos, prompt, prompt_mask, image, image_pos, box_bias)
            normed = self.output_layer_norm(tokens[:, 1:])
            with full_precision(normed) as fp32:
                offsets = self.box_head(fp32(normed))
                refined = (offsets + inverse_sigmoid(boxes, self.box_eps)).sigmoid()
            boxes = refined.detach()
        with full_precision(tokens) as fp32:
            presence_token = self.presence_layer_norm(fp32(tokens[:, 0]))
            presence = self.presence_head(presence_token).squeeze(-1)
        return normed, boxes, presence

    def _encode_boxes(self, boxes_cxcywh: Tensor) -> Tensor:
        """(B, Q, 4) -> (B, Q, 2C) sine embedding, in the order y, x, w, h."""
        num_features = self.hidden_size // 2
        cx, cy, w, h = (c * 2 * math.pi for c in boxes_cxcywh.unbind(-1))
        return torch.cat([sine_encode(v, num_features) for v in (cy, cx, w, h)], dim=-1)

    def _box_bias(self, boxes_cxcywh: Tensor, grid_hw: tuple[int, int]) -> Tensor:
        """Additive attention bias (B, heads, 1 + Q, h*w) from each token's offset to the box
        edges; the first row, the presence token's, is zero.

        The bias is (B, heads, 201, 5184) at full size (33 MB per layer), so it is written once,
        contiguous in the layout attention reads: the row and column terms are padded and
        permuted while they are small, and their broadcast sum is the only large write.
        """
        height, width = grid_hw
        x0, y0, x1, y1 = box_cxcywh_to_xyxy(boxes_cxcywh).unbind(-1)
        device = boxes_cxcywh.device
        rows = torch.arange(height, device=device, dtype=torch.float32) / height
        cols = torch.arange(width, device=device, dtype=torch.float32) / width
        delta_y = rows[:, None] - torch.stack((y0, y1), -1)[..., None, :]  # (B, Q, h, 2)
        delta_x = cols[:, None] - torch.stack((x0, x1), -1)[..., None, :]  # (B, Q, w, 2)
        bias_y = _presence_row_and_heads_first(self.box_rpb_embed_y(_log_scale(delta_y)))
        bias_x = _presence_row_and_heads_first(self.box_rpb_embed_x(_log_scale(delta_x)))
        bias = bias_y[..., :, None] + bias_x[..., None, :]  # (B, heads, 1 + Q, h, w)
        return bias.flatten(3)


def _presence_row_and_heads_first(bias: Tensor) -> Tensor:
    """(B, Q, n, heads) -> (B, heads, 1 + Q, n), contiguous, with a zero first query row."""
    return F.pad(bias, (0, 0, 0, 0, 1, 0)).permute(0, 3, 1, 2).contiguous()


def _log_scale(delta: Tensor) -> Tensor:
    """Signed log2 compression of offsets, so near edges resolve finely and far ones coarsely."""
    scaled = delta * 8
    return torch.sign(scaled) * torch.log2(scaled.abs() + 1.0) / math.log2(8)
