"""Exemplar-box encoder: box tokens (+ a CLS token) refined against the image features."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from sam3lib.model.config import GeometryConfig
from sam3lib.model.layers import (
    Attention,
    FeedForward,
    LayerNorm,
    box_cxcywh_to_xyxy,
    key_padding_mask,
    sine_encode,
)
from sam3lib.model.roi_align import roi_align


class GeometryLayer(nn.Module):
    """Pre-norm: self-attention over prompt tokens, cross-attention to the image, FFN."""

    def __init__(self, config: GeometryConfig) -> None:
        super().__init__()
        size, eps = config.hidden_size, config.layer_norm_eps
        self.layer_norm1 = LayerNorm(size, eps=eps)
        self.self_attn = Attention(size, config.num_heads)
        self.cross_attn = Attention(size, config.num_heads)
        self.layer_norm2 = LayerNorm(size, eps=eps)
        self.mlp = FeedForward(size, config.intermediate_size, "relu")
        self.layer_norm3 = LayerNorm(size, eps=eps)

    def forward(
        self, prompt: Tensor, prompt_mask: Tensor, image: Tensor, image_pos: Tensor
    ) -> Tensor:
        y = self.layer_norm1(prompt)
        prompt = prompt + self.self_attn(y, y, y, key_padding_mask(prompt_mask))
        y = self.layer_norm2(prompt)
        prompt = prompt + self.cross_attn(y, image + image_pos, image)
        return prompt + self.mlp(self.layer_norm3(prompt))


class GeometryEncoder(nn.Module):
    """Boxes (normalised cxcywh) + labels -> prompt tokens; a CLS token is always appended.

    The CLS token is what a text-only prompt carries from this encoder (Meta's semantics), so
    the output always has ``num_boxes + 1`` tokens, the last being CLS.
    """

    def __init__(self, config: GeometryConfig) -> None:
        super().__init__()
        size, eps = config.hidden_size, config.layer_norm_eps
        self.roi_size = config.roi_size
        self.hidden_size = size
        self.label_embed = nn.Embedding(2, size)
        self.cls_embed = nn.Embedding(1, size)
        self.boxes_direct_project = nn.Linear(4, size)
        self.boxes_pool_project = nn.Conv2d(size, size, config.roi_size)
        self.boxes_pos_enc_project = nn.Linear(size + 2, size)
        self.vision_layer_norm = LayerNorm(size, eps=eps)
        self.final_proj = nn.Linear(size, size)
        self.prompt_layer_norm = LayerNorm(size, eps=eps)
        self.layers = nn.ModuleList(GeometryLayer(config) for _ in range(config.num_layers))
        self.output_layer_norm = LayerNorm(size, eps=eps)

    def forward(
        self,
        boxes_cxcywh: Tensor,
        box_labels: Tensor,
        box_mask: Tensor,
        image: Tensor,
        image_pos: Tensor,
    ) -> tuple[Tensor, Tensor]:
        """
        Args:
            boxes_cxcywh: (B, M, 4) normalised to [0, 1].
            box_labels: (B, M) 1 positive, 0 negative.
            box_mask: (B, M) bool, False for padding boxes.
            image: (B, C, h, w) the stride-1 FPN level.
            image_pos: (B or 1, C, h, w) its position encoding.

        Returns:
            tokens (B, M + 1, C) and their validity mask (B, M + 1).
        """
        batch = image.shape[0]
        boxes = self._embed_boxes(boxes_cxcywh, box_labels, box_mask, image)
        cls = self.cls_embed.weight[None].expand(batch, -1, -1)
        tokens = torch.cat((boxes, cls), dim=1)
        mask = torch.cat((box_mask, box_mask.new_ones(batch, 1)), dim=1)
        tokens = self.prompt_layer_norm(self.final_proj(tokens))
        image_tokens = image.flatten(2).transpose(1, 2)
        pos_tokens = image_pos.flatten(2).transpose(1, 2)
        for layer in self.layers:
            tokens = layer(tokens, mask, image_tokens, pos_tokens)
        return self.output_layer_norm(tokens), mask

    def _embed_boxes(
        self, boxes_cxcywh: Tensor, labels: Tensor, mask: Tensor, image: Tensor
    ) -> Tensor:
        batch, num_boxes = boxes_cxcywh.shape[:2]
        height, width = image.shape[-2:]
        direct = self.boxes_direct_project(boxes_cxcywh)

        normed = self.vision_layer_norm(image.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
        scale = torch.tensor([width, height, width, height], device=image.device)
        boxes_px = box_cxcywh_to_xyxy(boxes_cxcywh) * scale.to(boxes_cxcywh.dtype)
        pooled = roi_align(normed, boxes_px, self.roi_size)  # (B, M, C, S, S)
        pooled = self.boxes_pool_project(pooled.flatten(0, 1))
        pooled = pooled.view(batch, num_boxes, self.hidden_size)

        cx, cy, w, h = boxes_cxcywh.unbind(-1)
        num_features = self.hidden_size // 2
        position = torch.cat(
            (
                sine_encode(cy * 2 * math.pi, num_features),
                sine_encode(cx * 2 * math.pi, num_features),
                h[..., None].float(),
                w[..., None].float(),
            ),
            dim=-1,
        ).to(direct.dtype)
        label_ids = torch.where(mask, labels, torch.zeros_like(labels)).long()
        return direct + pooled + self.boxes_pos_enc_project(position) + self.label_embed(label_ids)
