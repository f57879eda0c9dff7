"""Floating-point operations of encoding an image, derived from the model's configuration.

One multiply-add counts as two FLOPs, as :class:`torch.utils.flop_counter.FlopCounterMode`
counts them. Only matrix products and convolutions are counted (biases, norms, RoPE, softmax
and GELU are a fraction of a percent of the total); the ×0.5 FPN level is left out because
the image detector does not compute it (see :class:`sam3lib.model.neck.FPNNeck`).

``encode_image`` also runs the detector's prompt-independent work once per image (see
:class:`sam3lib.model.ImageFeatures`); it is counted apart, as ``detector_prep``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sam3lib.model.config import Sam3Config


@dataclass(frozen=True)
class EncoderFlops:
    """FLOPs of one ``encode_image`` call, by part.

    Attributes:
        patch_embed: the patch-embedding convolution.
        projections: q, k, v and output projections of every ViT layer.
        attention: the two attention matrix products (windowed and global layers).
        mlp: the ViT feed-forward layers.
        neck: the FPN levels the detector reads (transposed convs, 1×1 and 3×3 convs).
        detector_prep: the pixel decoder's 3×3 convs of the two finer levels and the fusion
            encoder's first self-attention (projections and attention products).
    """

    patch_embed: int
    projections: int
    attention: int
    mlp: int
    neck: int
    detector_prep: int

    @property
    def backbone(self) -> int:
        """The ViT alone (patch embedding and layers)."""
        return self.patch_embed + self.projections + self.attention + self.mlp

    @property
    def total(self) -> int:
        return self.backbone + self.neck + self.detector_prep

    def to_dict(self) -> dict[str, int]:
        return {**asdict(self), "backbone": self.backbone, "total": self.total}


def image_encoder_flops(config: Sam3Config, batch: int = 1) -> EncoderFlops:
    """FLOPs of one ``encode_image`` call on ``batch`` images of the model ``config`` describes.

    Example:
        >>> flops = image_encoder_flops(Sam3Config.sam3())
        >>> round((flops.backbone + flops.neck) / 1e12, 2), round(flops.total / 1e12, 2)
        (5.61, 5.76)
    """
    vision = config.vision
    grid, width = vision.grid_size, vision.hidden_size
    tokens = grid * grid
    window_tokens = vision.window_size**2
    num_global = sum(1 for i in range(vision.num_layers) if i in vision.global_attention_layers)
    num_windowed = vision.num_layers - num_global

    patch_embed = _conv(tokens, vision.num_channels * vision.patch_size**2, width)
    projections = vision.num_layers * 4 * _matmul(tokens, width, width)
    # Q·Kᵀ and A·V: each token meets every token of its window (windowed) or of the image.
    attention = 2 * (
        num_windowed * _matmul(tokens, width, window_tokens)
        + num_global * _matmul(tokens, width, tokens)
    )
    mlp = vision.num_layers * 2 * _matmul(tokens, width, vision.intermediate_size)
    neck = sum(
        _fpn_level_flops(grid, width, vision.fpn_size, scale)
        for scale in vision.fpn_scale_factors
        if scale >= 1.0
    )
    return EncoderFlops(
        patch_embed=batch * patch_embed,
        projections=batch * projections,
        attention=batch * attention,
        mlp=batch * mlp,
        neck=batch * neck,
        detector_prep=batch * _detector_prep_flops(grid, config.d_model),
    )


def _matmul(rows: int, inner: int, cols: int) -> int:
    return 2 * rows * inner * cols


def _conv(output_pixels: int, inputs_per_output: int, out_channels: int) -> int:
    """A convolution as the matrix product it is: each output reads ``inputs_per_output``."""
    return _matmul(output_pixels, inputs_per_output, out_channels)


def _fpn_level_flops(grid: int, width: int, fpn_size: int, scale: float) -> int:
    """One :class:`~sam3lib.model.neck.FPNLevel`: resampling, then 1×1 and 3×3 projections."""
    flops, channels, side = 0, width, grid
    # A stride-2, kernel-2 transposed conv gives each output pixel one tap per input channel.
    for _ in range({4.0: 2, 2.0: 1, 1.0: 0}[scale]):
        side, out_channels = side * 2, channels // 2
        flops += _conv(side * side, channels, out_channels)
        channels = out_channels
    pixels = side * side
    return flops + _conv(pixels, channels, fpn_size) + _conv(pixels, 9 * fpn_size, fpn_size)


def _detector_prep_flops(grid: int, width: int) -> int:
    """Pixel-decoder 3×3 convs at 2× and 4× the grid, and one self-attention over its tokens."""
    tokens = grid * grid
    convs = sum(_conv((scale * grid) ** 2, 9 * width, width) for scale in (2, 4))
    attention = 4 * _matmul(tokens, width, width) + 2 * _matmul(tokens, width, tokens)
    return convs + attention
