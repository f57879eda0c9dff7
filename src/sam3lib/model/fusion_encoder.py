"""Fusion encoder: image tokens attend to themselves and to the prompt tokens."""

from __future__ import annotations

from torch import Tensor, nn

from sam3lib.model.config import FusionEncoderConfig
from sam3lib.model.layers import Attention, FeedForward, LayerNorm, key_padding_mask


class FusionLayer(nn.Module):
    """Pre-norm: self-attention (position on q, k), prompt cross-attention, FFN."""

    def __init__(self, config: FusionEncoderConfig) -> None:
        super().__init__()
        size, eps = config.hidden_size, config.layer_norm_eps
        self.layer_norm1 = LayerNorm(size, eps=eps)
        self.self_attn = Attention(size, config.num_heads)
        self.cross_attn = Attention(size, config.num_heads)
        self.layer_norm2 = LayerNorm(size, eps=eps)
        self.mlp = FeedForward(size, config.intermediate_size, "relu")
        self.layer_norm3 = LayerNorm(size, eps=eps)

    def forward(
        self, image: Tensor, image_pos: Tensor, prompt: Tensor, prompt_mask: Tensor
    ) -> Tensor:
        return self.attend_prompt(self.self_attend(image, image_pos), prompt, prompt_mask)

    def self_attend(self, image: Tensor, image_pos: Tensor) -> Tensor:
        y = self.layer_norm1(image)
        with_pos = y + image_pos
        return image + self.self_attn(with_pos, with_pos, y)

    def attend_prompt(self, image: Tensor, prompt: Tensor, prompt_mask: Tensor) -> Tensor:
        y = self.layer_norm2(image)
        image = image + self.cross_attn(y, prompt, prompt, key_padding_mask(prompt_mask))
        return image + self.mlp(self.layer_norm3(image))


class FusionEncoder(nn.Module):
    """(B, HW, C) image tokens conditioned on (B, L, C) prompt tokens -> (B, HW, C).

    The first layer's self-attention sees only the image, so it runs once per image
    (:meth:`attend_image`, at encoding time) and :meth:`forward` starts from its result.
    """

    def __init__(self, config: FusionEncoderConfig) -> None:
        super().__init__()
        self.layers = nn.ModuleList(FusionLayer(config) for _ in range(config.num_layers))

    @property
    def _first(self) -> FusionLayer:
        first = self.layers[0]
        assert isinstance(first, FusionLayer)
        return first

    def attend_image(self, image: Tensor, image_pos: Tensor) -> Tensor:
        """(B, HW, C) image tokens -> the same after the first layer's self-attention."""
        return self._first.self_attend(image, image_pos)

    def forward(
        self, attended_image: Tensor, image_pos: Tensor, prompt: Tensor, prompt_mask: Tensor
    ) -> Tensor:
        """``attended_image`` from :meth:`attend_image`; the rest as in the class doc."""
        image = self._first.attend_prompt(attended_image, prompt, prompt_mask)
        for layer in self.layers[1:]:
            image = layer(image, image_pos, prompt, prompt_mask)
        return image
