"""The interactive head's mask decoder: prompt tokens + image embedding -> 4 candidate masks,
their predicted IoU and an object score.

Unlike the detector's mask head it segments one object per prompt. It always returns all four
mask tokens; which of them a caller uses (the multimask rule) is :func:`select_masks`, a pure
function outside the graph, so that one exported graph serves every choice.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from sam3lib.model.config import TrackerConfig
from sam3lib.model.prompt_encoder import LayerNorm2d
from sam3lib.model.two_way_transformer import FeedForward, TwoWayTransformer


class InteractiveMaskDecoder(nn.Module):
    """Tokens [object score, IoU, mask × 4] + prompt tokens through a two-way transformer;
    image tokens upscaled ×4 with the finer FPN levels and dotted with per-token hyper-MLPs."""

    def __init__(self, config: TrackerConfig) -> None:
        super().__init__()
        width, tokens = config.hidden_size, config.num_mask_tokens
        self.obj_score_token = nn.Embedding(1, width)
        self.iou_token = nn.Embedding(1, width)
        self.mask_tokens = nn.Embedding(tokens, width)
        self.transformer = TwoWayTransformer(config)
        self.upscale_conv1 = nn.ConvTranspose2d(width, width // 4, kernel_size=2, stride=2)
        self.upscale_layer_norm = LayerNorm2d(width // 4, eps=config.layer_norm_eps)
        self.upscale_conv2 = nn.ConvTranspose2d(width // 4, width // 8, kernel_size=2, stride=2)
        self.output_hypernetworks_mlps = nn.ModuleList(
            FeedForward(width, width, width // 8, num_layers=3) for _ in range(tokens)
        )
        self.iou_prediction_head = FeedForward(
            width, config.iou_head_hidden_size, tokens, config.iou_head_depth, sigmoid_output=True
        )
        # Applied once per image to the x4 and x2 neck levels (see InteractiveHead.encode).
        self.conv_s0 = nn.Conv2d(width, width // 8, kernel_size=1)
        self.conv_s1 = nn.Conv2d(width, width // 4, kernel_size=1)
        self.pred_obj_score_head = FeedForward(width, width, 1, num_layers=3)

    def forward(
        self,
        image_embedding: Tensor,
        image_pe: Tensor,
        sparse: Tensor,
        dense: Tensor,
        high_res_x4: Tensor,
        high_res_x2: Tensor,
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Decode B prompts against one image (image tensors have batch 1 or B).

        Args:
            image_embedding: (1|B, C, G, G).
            image_pe: (1, C, G, G) position encoding of the embedding's cells.
            sparse: (B, P, C) point/corner embeddings.
            dense: (B, C, G, G) mask-prompt embedding.
            high_res_x4: (1|B, C/8, 4G, 4G) and ``high_res_x2``: (1|B, C/4, 2G, 2G).

        Returns:
            Mask logits (B, 4, 4G, 4G), predicted IoU (B, 4), object-score logit (B, 1).
        """
        mask_logits, iou_scores, object_score_logits, _ = self.decode_with_tokens(
            image_embedding, image_pe, sparse, dense, high_res_x4, high_res_x2
        )
        return mask_logits, iou_scores, object_score_logits

    def decode_with_tokens(
        self,
        image_embedding: Tensor,
        image_pe: Tensor,
        sparse: Tensor,
        dense: Tensor,
        high_res_x4: Tensor,
        high_res_x2: Tensor,
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """:meth:`forward`, plus the four mask tokens (B, 4, C) after the transformer: video
        tracking makes an object pointer from the chosen one."""
        batch, (width, grid, _) = sparse.shape[0], image_embedding.shape[1:]
        output_tokens = torch.cat(
            (self.obj_score_token.weight, self.iou_token.weight, self.mask_tokens.weight)
        )
        tokens = torch.cat((output_tokens.unsqueeze(0).expand(batch, -1, -1), sparse), dim=1)
        image = (image_embedding + dense).flatten(2).transpose(1, 2)
        image_pe_tokens = image_pe.flatten(2).transpose(1, 2).expand(batch, -1, -1)
        tokens, image = self.transformer(tokens, image, image_pe_tokens)

        num_masks = self.mask_tokens.weight.shape[0]
        mask_tokens = tokens[:, 2 : 2 + num_masks]
        image_map = image.transpose(1, 2).reshape(batch, width, grid, grid)
        upscaled = self.upscale_conv1(image_map) + high_res_x2
        upscaled = F.gelu(self.upscale_layer_norm(upscaled))
        upscaled = F.gelu(self.upscale_conv2(upscaled) + high_res_x4)
        hyper = torch.stack(
            [mlp(mask_tokens[:, i]) for i, mlp in enumerate(self.output_hypernetworks_mlps)],
            dim=1,
        )
        side = upscaled.shape[-1]
        mask_logits = (hyper @ upscaled.flatten(2)).view(batch, num_masks, side, side)
        iou_scores = self.iou_prediction_head(tokens[:, 1])
        object_score_logits = self.pred_obj_score_head(tokens[:, 0])
        return mask_logits, iou_scores, object_score_logits, mask_tokens


def stability_scores(mask_logits: Tensor, delta: float) -> Tensor:
    """(..., H, W) logits -> (...) area(logit > delta) / area(logit > -delta); 1 if empty."""
    flat = mask_logits.flatten(-2)
    inner = (flat > delta).sum(-1).float()
    outer = (flat > -delta).sum(-1).float()
    return torch.where(outer > 0, inner / outer.clamp(min=1), torch.ones_like(inner))


def select_masks(
    mask_logits: Tensor,
    iou_scores: Tensor,
    multimask: bool,
    config: TrackerConfig,
) -> tuple[Tensor, Tensor]:
    """Meta's choice of candidates among the decoder's four mask tokens.

    ``multimask``: tokens 1..3 (the caller picks, usually the highest IoU). Otherwise token 0,
    unless its stability score is below ``config.stability_threshold``: then the token of
    1..3 with the highest predicted IoU.

    Args:
        mask_logits: (B, 4, h, w); iou_scores: (B, 4).

    Returns:
        (B, 3, h, w) and (B, 3) with ``multimask``, else (B, 1, h, w) and (B, 1).
    """
    if multimask:
        return mask_logits[:, 1:], iou_scores[:, 1:]
    best = iou_scores[:, 1:].argmax(dim=1) + 1
    rows = torch.arange(mask_logits.shape[0], device=mask_logits.device)
    stable = stability_scores(mask_logits[:, 0], config.stability_delta) >= (
        config.stability_threshold
    )
    chosen = torch.where(stable, torch.zeros_like(best), best)
    return mask_logits[rows, chosen].unsqueeze(1), iou_scores[rows, chosen].unsqueeze(1)
