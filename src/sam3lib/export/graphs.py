"""The three exported graphs: which model entry point each runs and its tensor signature.

Each graph is a thin ``nn.Module`` over one :class:`~sam3lib.model.Sam3Model` entry point with
flat tensor inputs and outputs (ONNX has no NamedTuples). Sizes are fixed by the model and the
build options, except ``"prompts"``: how many prompts one text-encode or decode call takes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from sam3lib.export.manifest import PROMPTS_AXIS, TensorSpec
from sam3lib.model import ImageFeatures, Sam3Model, Sam3Outputs, TextFeatures


@dataclass(frozen=True)
class GraphOptions:
    """Sizes an export is built for.

    Attributes:
        batch: images per image-encoder call.
        max_prompts: most prompts per text-encoder or decoder call (more are run in chunks).
        max_boxes: exemplar boxes per prompt; fewer are padded and masked out, so text-only
            prompts use all-padding boxes.
    """

    batch: int = 1
    max_prompts: int = 16
    max_boxes: int = 4


class ImageEncoderGraph(nn.Module):
    def __init__(self, model: Sam3Model) -> None:
        super().__init__()
        self.model = model

    def forward(self, pixels: Tensor) -> tuple[Tensor, ...]:
        return tuple(self.model.encode_image(pixels))


class TextEncoderGraph(nn.Module):
    def __init__(self, model: Sam3Model) -> None:
        super().__init__()
        self.model = model

    def forward(self, token_ids: Tensor, attention_mask: Tensor) -> Tensor:
        return self.model.encode_text(token_ids, attention_mask).features


class DecoderGraph(nn.Module):
    """One image (batch 1) against P prompts, each with ``max_boxes`` (masked) boxes."""

    def __init__(self, model: Sam3Model) -> None:
        super().__init__()
        self.model = model

    def forward(
        self,
        pixel_x4: Tensor,
        pixel_x2: Tensor,
        fpn_x1: Tensor,
        pos_x1: Tensor,
        attended_x1: Tensor,
        text_features: Tensor,
        text_mask: Tensor,
        boxes_cxcywh: Tensor,
        box_labels: Tensor,
        box_mask: Tensor,
    ) -> tuple[Tensor, ...]:
        # The trunk output is not a decoder input: decode never reads that field.
        image = ImageFeatures(pixel_x4, pixel_x2, fpn_x1, pos_x1, attended_x1, backbone=fpn_x1)
        return tuple(
            self.model.decode_prompts(
                image,
                TextFeatures(text_features, text_mask),
                boxes_cxcywh,
                box_labels,
                box_mask,
            )
        )


@dataclass(frozen=True)
class GraphSignature:
    """A graph's module, inputs and outputs, in call order."""

    module: nn.Module
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]

    def example_inputs(self, prompts: int) -> tuple[Tensor, ...]:
        """Inputs of the right shapes and dtypes to trace with (values are arbitrary but
        valid: real tokens, boxes inside the image, at least one real box per prompt)."""
        return tuple(_example(spec, prompts) for spec in self.inputs)


def graph_signatures(model: Sam3Model, options: GraphOptions) -> dict[str, GraphSignature]:
    """The image encoder, text encoder and decoder graphs of ``model``, by manifest name."""
    config = model.config
    size, width = config.vision.image_size, config.d_model
    fine, mid, coarse = _fpn_sizes(model)
    length = config.text.context_length
    queries, boxes, prompts = config.decoder.num_queries, options.max_boxes, PROMPTS_AXIS

    def f32(name: str, *shape: int | str) -> TensorSpec:
        return TensorSpec(name, "float32", shape)

    features = (
        f32("pixel_x4", options.batch, width, fine, fine),
        f32("pixel_x2", options.batch, width, mid, mid),
        f32("fpn_x1", options.batch, width, coarse, coarse),
        f32("pos_x1", options.batch, width, coarse, coarse),
        f32("attended_x1", options.batch, coarse * coarse, width),
    )
    one_image = tuple(TensorSpec(s.name, s.dtype, (1, *s.shape[1:])) for s in features)
    trunk = f32("backbone", options.batch, config.vision.hidden_size, coarse, coarse)
    return {
        "image_encoder": GraphSignature(
            ImageEncoderGraph(model),
            (f32("pixels", options.batch, 3, size, size),),
            (*features, trunk),
        ),
        "text_encoder": GraphSignature(
            TextEncoderGraph(model),
            (
                TensorSpec("token_ids", "int64", (prompts, length)),
                TensorSpec("attention_mask", "bool", (prompts, length)),
            ),
            (f32("text_features", prompts, length, width),),
        ),
        "decoder": GraphSignature(
            DecoderGraph(model),
            (
                *one_image,
                f32("text_features", prompts, length, width),
                TensorSpec("text_mask", "bool", (prompts, length)),
                f32("boxes_cxcywh", prompts, boxes, 4),
                TensorSpec("box_labels", "int64", (prompts, boxes)),
                TensorSpec("box_mask", "bool", (prompts, boxes)),
            ),
            (
                f32(Sam3Outputs._fields[0], prompts, queries, fine, fine),
                f32(Sam3Outputs._fields[1], prompts, queries, 4),
                f32(Sam3Outputs._fields[2], prompts, queries),
                f32(Sam3Outputs._fields[3], prompts),
                f32(Sam3Outputs._fields[4], prompts, 1, fine, fine),
            ),
        ),
    }


def _fpn_sizes(model: Sam3Model) -> tuple[int, int, int]:
    """Side lengths of the three FPN levels the detector uses, finest first."""
    vision = model.config.vision
    scales = sorted((s for s in vision.fpn_scale_factors if s >= 1.0), reverse=True)
    fine, mid, coarse = (int(vision.grid_size * s) for s in scales)
    return fine, mid, coarse


def _example(spec: TensorSpec, prompts: int) -> Tensor:
    shape = spec.concrete_shape(prompts)
    generator = torch.Generator().manual_seed(0)
    if spec.dtype == "bool":
        return torch.ones(shape, dtype=torch.bool)
    if spec.dtype == "int64":  # token ids and box labels: small positive ids
        return torch.randint(1, 2, shape, generator=generator)
    if spec.name == "boxes_cxcywh":
        return torch.full(shape, 0.25)
    return torch.randn(shape, generator=generator)
