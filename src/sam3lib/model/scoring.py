"""Dot-product scoring: how well each query matches the pooled prompt."""

from __future__ import annotations

import math
from typing import ClassVar

from torch import Tensor, nn

from sam3lib.model.config import DecoderConfig
from sam3lib.model.layers import MLP, LayerNorm, full_precision


class DotProductScoring(nn.Module):
    # An fp32 island (see layers.full_precision): the logit is a 256-term dot product read
    # through a sigmoid against a 0.5 threshold, and costs next to nothing (Q queries, one prompt).
    FP32_SUBMODULES: ClassVar[tuple[str, ...]] = ("text_mlp", "text_proj", "query_proj")

    def __init__(self, config: DecoderConfig) -> None:
        super().__init__()
        size = config.hidden_size
        self.text_mlp = MLP(size, config.intermediate_size, size, 2)
        self.text_mlp_out_norm = LayerNorm(size, eps=config.layer_norm_eps)
        self.text_proj = nn.Linear(size, size)
        self.query_proj = nn.Linear(size, size)
        self.scale = 1.0 / math.sqrt(size)
        self.logit_clamp = config.score_logit_clamp

    def forward(self, queries: Tensor, prompt: Tensor, prompt_mask: Tensor) -> Tensor:
        """(B, Q, C) queries, (B, L, C) prompt with (B, L) mask -> (B, Q) logits (fp32 in AMP)."""
        with full_precision(queries) as fp32:
            queries, prompt = fp32(queries), fp32(prompt)
            prompt = self.text_mlp_out_norm(prompt + self.text_mlp(prompt))
            valid = prompt_mask.to(prompt.dtype)[..., None]
            pooled = (prompt * valid).sum(1) / valid.sum(1).clamp(min=1.0)
            logits = (self.query_proj(queries) @ self.text_proj(pooled)[..., None]).squeeze(-1)
            return (logits * self.scale).clamp(-self.logit_clamp, self.logit_clamp)
