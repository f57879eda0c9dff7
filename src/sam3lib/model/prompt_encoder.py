"""The interactive head's prompt encoder: clicks, box corners and a mask prompt as embeddings.

Points are in pixels of the model's S×S input frame. Labels follow Meta's convention:
1 positive click, 0 negative click, 2 and 3 a box's top-left and bottom-right corners,
-1 "not a point" (the padding point Meta appends to every prompt).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sam3lib.model.config import TrackerConfig

NOT_A_POINT = -1
NUM_POINT_LABELS = 4  # negative, positive, box top-left, box bottom-right


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of a (B, C, H, W) map."""

    def forward(self, x: Tensor) -> Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class RandomFourierEncoding(nn.Module):
    """Positions in [0, 1]² -> [sin, cos](2π·(2p − 1)·G) with a fixed random (2, C/2) matrix G."""

    def __init__(self, hidden_size: int) -> None:
        super().__init__()
        self.positional_embedding: Tensor
        self.register_buffer("positional_embedding", torch.empty(2, hidden_size // 2))

    def forward(self, positions: Tensor) -> Tensor:
        """(..., 2) normalised (x, y) -> (..., C)."""
        gaussian = self.positional_embedding
        projected = (2 * positions - 1).to(gaussian.dtype) @ gaussian
        projected = 2 * math.pi * projected
        return torch.cat((projected.sin(), projected.cos()), dim=-1)


class MaskEmbedding(nn.Module):
    """A (B, 1, 4G, 4G) mask-logit prompt -> (B, C, G, G): two stride-2 convs and a 1×1."""

    def __init__(self, config: TrackerConfig) -> None:
        super().__init__()
        quarter = config.mask_input_channels // 4
        self.conv1 = nn.Conv2d(1, quarter, kernel_size=2, stride=2)
        self.layer_norm1 = LayerNorm2d(quarter, eps=config.layer_norm_eps)
        self.conv2 = nn.Conv2d(quarter, config.mask_input_channels, kernel_size=2, stride=2)
        self.layer_norm2 = LayerNorm2d(config.mask_input_channels, eps=config.layer_norm_eps)
        self.conv3 = nn.Conv2d(config.mask_input_channels, config.hidden_size, kernel_size=1)

    def forward(self, masks: Tensor) -> Tensor:
        x = F.gelu(self.layer_norm1(self.conv1(masks)))
        x = F.gelu(self.layer_norm2(self.conv2(x)))
        return self.conv3(x)


class PromptEncoder(nn.Module):
    """Sparse embeddings for points and box corners, a dense one for the mask prompt."""

    def __init__(self, config: TrackerConfig, image_size: int, grid_size: int) -> None:
        super().__init__()
        self.image_size = image_size
        self.grid_size = grid_size
        self.shared_embedding = RandomFourierEncoding(config.hidden_size)
        self.mask_embed = MaskEmbedding(config)
        self.no_mask_embed = nn.Embedding(1, config.hidden_size)
        self.point_embed = nn.Embedding(NUM_POINT_LABELS, config.hidden_size)
        self.not_a_point_embed = nn.Embedding(1, config.hidden_size)

    def embed_points(self, coords_px: Tensor, labels: Tensor) -> Tensor:
        """(B, P, 2) xy pixels of the S×S frame and (B, P) int labels -> (B, P, C).

        A point is the centre of its pixel, hence the half-pixel shift. Label -1 replaces the
        position encoding by ``not_a_point_embed``; labels 0-3 add their own embedding to it.
        """
        encoded = self.shared_embedding((coords_px + 0.5) / self.image_size)
        labels = labels[..., None]
        encoded = torch.where(labels == NOT_A_POINT, self.not_a_point_embed.weight, encoded)
        by_label = self.point_embed(labels.squeeze(-1).clamp(min=0))
        return encoded + by_label * (labels >= 0).to(encoded.dtype)

    def embed_mask(self, mask_logits: Tensor, has_mask: Tensor) -> Tensor:
        """(B, 1, 4G, 4G) mask logits and (B,) bool -> (B, C, G, G) dense embedding.

        Rows without a mask get ``no_mask_embed`` everywhere; a flag rather than a Python
        branch, so that one exported graph serves prompts with and without a mask.
        """
        embedded = self.mask_embed(mask_logits)
        absent = self.no_mask_embed.weight.view(1, -1, 1, 1).to(embedded.dtype)
        return torch.where(has_mask.view(-1, 1, 1, 1), embedded, absent)

    def dense_positions(self) -> Tensor:
        """(1, C, G, G) position encoding of the image-embedding cells (their centres)."""
        gaussian = self.shared_embedding.positional_embedding
        centres = (torch.arange(self.grid_size, device=gaussian.device) + 0.5) / self.grid_size
        y, x = torch.meshgrid(centres, centres, indexing="ij")
        encoded = self.shared_embedding(torch.stack((x, y), dim=-1).to(gaussian.dtype))
        return encoded.permute(2, 0, 1).unsqueeze(0)
