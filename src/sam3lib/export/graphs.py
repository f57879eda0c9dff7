"""The exported graphs: which model entry point each runs and its tensor signature.

Each graph is a thin ``nn.Module`` over one :class:`~sam3lib.model.Sam3Model` entry point with
flat tensor inputs and outputs (ONNX has no NamedTuples). Sizes are fixed by the model and the
build options, except the symbolic axes: ``"prompts"`` (prompts per text-encode or decode
call), and for the interactive decoder ``"objects"`` (objects per call) and ``"points"``
(points per object, 0 included: a mask-only prompt has none).

Three graphs always (image encoder, text encoder, concept decoder); two more when the model
has the interactive head: ``interactive_encoder`` (trunk output -> the head's per-image
features, beside the image encoder) and ``interactive_decoder`` (prompt encoder and mask
decoder: clicks, boxes and a mask -> one object's masks per row).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from sam3lib.export.manifest import OBJECTS_AXIS, POINTS_AXIS, PROMPTS_AXIS, TensorSpec
from sam3lib.model import (
    ImageFeatures,
    InteractiveFeatures,
    InteractiveOutputs,
    Sam3Model,
    Sam3Outputs,
    TextFeatures,
)

#: Graph names of the :class:`InteractiveFeatures` fields, in field order ("embedding" alone
#: would collide with a value the exporter names after ``nn.Embedding``).
INTERACTIVE_FEATURE_NAMES = ("high_res_x4", "high_res_x2", "image_embedding")


@dataclass(frozen=True)
class GraphOptions:
    """Sizes an export is built for.

    Attributes:
        batch: images per image-encoder call.
        max_prompts: most prompts per text-encoder or decoder call (more are run in chunks).
        max_boxes: exemplar boxes per prompt; fewer are padded and masked out, so text-only
            prompts use all-padding boxes.
        max_objects: most objects (one prompt each: a box of ``predict(boxes=...)``) per
            interactive-decoder call; more are run in chunks.
        max_points: most points per object in an interactive-decoder call: clicks, two corners
            per box and the padding point Meta's predictor appends (more are refused).
    """

    batch: int = 1
    max_prompts: int = 16
    max_boxes: int = 4
    max_objects: int = 32
    max_points: int = 32


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


class InteractiveEncoderGraph(nn.Module):
    """The interactive head's neck on one image's trunk output."""

    def __init__(self, model: Sam3Model) -> None:
        super().__init__()
        self.model = model

    def forward(self, backbone: Tensor) -> tuple[Tensor, ...]:
        return tuple(self.model.encode_interactive(backbone))


class InteractiveDecoderGraph(nn.Module):
    """One image's interactive features (batch 1) against B objects' prompts."""

    def __init__(self, model: Sam3Model) -> None:
        super().__init__()
        self.model = model

    def forward(
        self,
        high_res_x4: Tensor,
        high_res_x2: Tensor,
        image_embedding: Tensor,
        point_coords: Tensor,
        point_labels: Tensor,
        mask_input: Tensor,
        has_mask_input: Tensor,
    ) -> tuple[Tensor, ...]:
        features = InteractiveFeatures(high_res_x4, high_res_x2, image_embedding)
        return tuple(
            self.model.decode_interactive(
                features, point_coords, point_labels, mask_input, has_mask_input
            )
        )


@dataclass(frozen=True)
class GraphSignature:
    """A graph's module, inputs and outputs, in call order."""

    module: nn.Module
    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]

    def example_inputs(self, sizes: dict[str, int]) -> tuple[Tensor, ...]:
        """Inputs of the right shapes and dtypes to trace with, symbolic axes at ``sizes``
        (values are arbitrary but valid: real tokens, boxes inside the image, at least one
        real box per prompt)."""
        return tuple(_example(spec, sizes) for spec in self.inputs)


def graph_signatures(model: Sam3Model, options: GraphOptions) -> dict[str, GraphSignature]:
    """The graphs of ``model`` by manifest name: image encoder, text encoder and decoder, then
    the interactive encoder and decoder if the model has the interactive head."""
    signatures = _detector_signatures(model, options)
    if model.has_interactive_head:
        signatures.update(_interactive_signatures(model))
    return signatures


def _detector_signatures(model: Sam3Model, options: GraphOptions) -> dict[str, GraphSignature]:
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


def _interactive_signatures(model: Sam3Model) -> dict[str, GraphSignature]:
    vision, tracker = model.config.vision, model.config.tracker
    assert tracker is not None  # callers check has_interactive_head
    grid, width = vision.grid_size, tracker.hidden_size
    objects, points, masks = OBJECTS_AXIS, POINTS_AXIS, tracker.num_mask_tokens

    def f32(name: str, *shape: int | str) -> TensorSpec:
        return TensorSpec(name, "float32", shape)

    x4, x2, embedding = INTERACTIVE_FEATURE_NAMES
    features = (
        f32(x4, 1, width // 8, 4 * grid, 4 * grid),
        f32(x2, 1, width // 4, 2 * grid, 2 * grid),
        f32(embedding, 1, width, grid, grid),
    )
    scores, object_scores = InteractiveOutputs._fields[1:]
    return {
        "interactive_encoder": GraphSignature(
            InteractiveEncoderGraph(model),
            (f32("backbone", 1, vision.hidden_size, grid, grid),),
            features,
        ),
        "interactive_decoder": GraphSignature(
            InteractiveDecoderGraph(model),
            (
                *features,
                f32("point_coords", objects, points, 2),
                TensorSpec("point_labels", "int64", (objects, points)),
                f32("mask_input", objects, 1, 4 * grid, 4 * grid),
                TensorSpec("has_mask_input", "bool", (objects,)),
            ),
            (
                f32(InteractiveOutputs._fields[0], objects, masks, 4 * grid, 4 * grid),
                f32(scores, objects, masks),
                f32(object_scores, objects, 1),
            ),
        ),
    }


def _fpn_sizes(model: Sam3Model) -> tuple[int, int, int]:
    """Side lengths of the three FPN levels the detector uses, finest first."""
    vision = model.config.vision
    scales = sorted((s for s in vision.fpn_scale_factors if s >= 1.0), reverse=True)
    fine, mid, coarse = (int(vision.grid_size * s) for s in scales)
    return fine, mid, coarse


def _example(spec: TensorSpec, sizes: dict[str, int]) -> Tensor:
    shape = spec.concrete_shape(sizes)
    generator = torch.Generator().manual_seed(0)
    if spec.dtype == "bool":
        return torch.ones(shape, dtype=torch.bool)
    if spec.dtype == "int64":  # token ids, box and point labels: small positive ids
        return torch.randint(1, 2, shape, generator=generator)
    if spec.name == "boxes_cxcywh":
        return torch.full(shape, 0.25)
    if spec.name == "point_coords":  # pixels of the model's input frame
        return torch.full(shape, 8.0)
    return torch.randn(shape, generator=generator)
