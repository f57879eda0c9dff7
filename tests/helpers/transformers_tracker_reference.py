"""transformers' ``Sam3TrackerModel`` set up as the parity reference of our interactive head.

The tiny tracker is the twin of ``Sam3Config.tiny()``'s tracker part. Its ViT trunk is the
detector reference's (:func:`helpers.transformers_reference.build_tiny_reference`): SAM 3 runs
one ViT pass for both heads, so :func:`our_state_dict` can give our model both references'
weights at once.

transformers' pixel path (``Sam3TrackerModel(pixel_values=...)``) adds ``no_memory_embedding``
to the coarsest (0.5x) neck level, which it then drops; Meta adds it to the x1 level, the image
embedding (``SAM3_TRACKER_FACTS.md`` §1). :func:`corrected_image_embeddings` does what Meta
does, and :func:`corrected_reference_outputs` feeds that to transformers' decoder.
"""

from __future__ import annotations

from typing import Any

import torch

from helpers.transformers_reference import tiny_transformers_config
from sam3lib.bench.weights import random_state_dict
from sam3lib.model import Sam3Config, Sam3Model
from sam3lib.model.video_memory import VIDEO_MEMORY_PARTS

# transformers' Sam3TrackerModel prefix -> ours. Its ViT trunk is ours (and the detector's)
# under the same name; ``shared_image_embedding`` is a copy of the prompt encoder's matrix.
TRACKER_NECK_PREFIX = ("vision_encoder.neck.", "tracker_neck.")
TRACKER_HEAD_PREFIX = "tracker_model."
BACKBONE_PREFIX = "vision_encoder.backbone."
DUPLICATE_POSITIONAL_EMBEDDING = "shared_image_embedding.positional_embedding"

# See build_tiny_tracker_reference: mask logits out of the stability band.
HYPERNETWORK_OUTPUT_SCALE = 10.0
UPSCALED_SHIFT_CHANNEL, UPSCALED_SHIFT = 1, 1.0


def tiny_tracker_config() -> Any:
    """The transformers twin of ``Sam3Config.tiny().tracker`` with the tiny detector's trunk
    (ViT LayerNorm eps 1e-5 like Meta); eager attention, the plain matmul/softmax reference."""
    from transformers import Sam3TrackerConfig

    width = 32
    vision = tiny_transformers_config().vision_config.to_dict()
    config = Sam3TrackerConfig(
        vision_config={**vision, "backbone_feature_sizes": [[48, 48], [24, 24], [12, 12]]},
        prompt_encoder_config={"hidden_size": width, "image_size": 168, "patch_size": 14},
        mask_decoder_config={
            "hidden_size": width,
            "num_attention_heads": 2,
            "mlp_dim": 64,
            "iou_head_hidden_dim": width,
        },
    )
    config._attn_implementation = "eager"  # the setter passes it on to every sub-config
    return config


def build_tiny_tracker_reference(detector: Any, seed: int = 1) -> Any:
    """A tiny transformers ``Sam3TrackerModel`` in eval mode: init plus seeded noise, as the
    detector reference, so that LayerNorm affines, biases and ``no_memory_embedding`` (zero at
    init) all matter. Its ViT trunk gets the tensors of ``detector`` (a transformers
    ``Sam3Model``), and ``shared_image_embedding`` the prompt encoder's Gaussian matrix, as in
    the published checkpoint (transformers' init draws two different ones).

    Random init leaves every mask logit within ±0.25 and most pixels inside the single-mask
    rule's ±0.05 stability band, so token 0 would never count as stable. As with trained
    weights, the logits are moved out of the band: the hypernetworks' outputs are scaled
    (logits of a few units) and one channel of the upscaled features is shifted, so that the
    prompt decides which branch of the rule is taken.
    """
    from transformers import Sam3TrackerModel

    torch.manual_seed(seed)
    model: Any = Sam3TrackerModel(tiny_tracker_config())
    model.eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.1)
        decoder = model.mask_decoder
        for mlp in decoder.output_hypernetworks_mlps:
            mlp.proj_out.weight.mul_(HYPERNETWORK_OUTPUT_SCALE)
            mlp.proj_out.bias.mul_(HYPERNETWORK_OUTPUT_SCALE)
        decoder.upscale_conv2.bias[UPSCALED_SHIFT_CHANNEL] += UPSCALED_SHIFT
        model.vision_encoder.backbone.load_state_dict(
            detector.vision_encoder.backbone.state_dict(), strict=True
        )
        model.shared_image_embedding.positional_embedding.copy_(
            model.prompt_encoder.shared_embedding.positional_embedding
        )
    return model


def tracker_state_dict_in_our_layout(tracker: Any) -> dict[str, torch.Tensor]:
    """The tracker reference's neck and head under our names (``tracker_neck.*``,
    ``tracker_model.*``); its ViT trunk is left out (it is the detector's)."""
    neck_theirs, neck_ours = TRACKER_NECK_PREFIX
    converted: dict[str, torch.Tensor] = {}
    for key, tensor in tracker.state_dict().items():
        if key.startswith(BACKBONE_PREFIX) or key == DUPLICATE_POSITIONAL_EMBEDDING:
            continue
        if key.startswith(neck_theirs):
            converted[neck_ours + key.removeprefix(neck_theirs)] = tensor
        else:
            converted[TRACKER_HEAD_PREFIX + key] = tensor
    return converted


def our_state_dict(detector: Any, tracker: Any) -> dict[str, torch.Tensor]:
    """Weights for ``Sam3Model(Sam3Config.tiny())`` (``load_state_dict(strict=True)``): the
    detector reference's (our layout is its state dict), the tracker reference's head, and
    seeded random video-memory tensors (transformers' image tracker has none; no image path
    reads them)."""
    theirs = detector.state_dict()
    for key, tensor in tracker.state_dict().items():
        if key.startswith(BACKBONE_PREFIX) and not torch.equal(theirs[key], tensor):
            raise ValueError(f"the two references' ViT trunks differ at {key}")
    config = Sam3Config.tiny()
    parts = VIDEO_MEMORY_PARTS
    video_memory = {
        key: tensor
        for key, tensor in random_state_dict(config, seed=3).items()
        if key.startswith(TRACKER_HEAD_PREFIX) and key.split(".")[1] in parts
    }
    return {**theirs, **tracker_state_dict_in_our_layout(tracker), **video_memory}


def build_our_tiny_model(detector: Any, tracker: Any) -> Sam3Model:
    """``Sam3Model(Sam3Config.tiny())`` in eval mode with both references' weights."""
    model = Sam3Model(Sam3Config.tiny()).eval()
    model.load_state_dict(our_state_dict(detector, tracker), strict=True)
    return model


@torch.no_grad()
def corrected_image_embeddings(tracker: Any, pixels: torch.Tensor) -> list[torch.Tensor]:
    """transformers' ``get_image_embeddings`` with Meta's fix: [s0 (B, C/8, 4G, 4G) after
    ``conv_s0``, s1 (B, C/4, 2G, 2G) after ``conv_s1``, x1 (B, C, G, G) + no_memory_embedding];
    the 0.5x level is dropped."""
    levels = tracker.get_image_features(pixels, return_dict=True).fpn_hidden_states  # (HW, B, C)
    s0, s1, x1 = levels[:3]
    levels = [s0, s1, x1 + tracker.no_memory_embedding]
    batch = pixels.shape[0]
    return [
        level.permute(1, 2, 0).reshape(batch, -1, *size)
        for level, size in zip(levels, tracker.backbone_feature_sizes, strict=True)
    ]


@torch.no_grad()
def corrected_reference_outputs(
    tracker: Any,
    pixels: torch.Tensor,
    *,
    input_points: torch.Tensor | None = None,
    input_labels: torch.Tensor | None = None,
    input_boxes: torch.Tensor | None = None,
    input_masks: torch.Tensor | None = None,
    multimask_output: bool = True,
    image_embeddings: list[torch.Tensor] | None = None,
) -> Any:
    """transformers' decoder on :func:`corrected_image_embeddings`.

    Args:
        pixels: (B_img, 3, S, S) normalised pixels.
        input_points: (B_img, N, P, 2) xy pixels of the S×S frame, N objects per image; no
            padding point (transformers appends Meta's, after the box corners if any).
        input_labels: (B_img, N, P) int, 1 positive / 0 negative.
        input_boxes: (B_img, N, 4) xyxy pixels.
        input_masks: (B_img, 1, 4G, 4G) mask logits (one object per image).
        image_embeddings: ``corrected_image_embeddings(tracker, pixels)`` if already at hand.

    Returns:
        ``Sam3TrackerImageSegmentationOutput``: ``pred_masks`` (B_img, N, 3|1, 4G, 4G),
        ``iou_scores`` (B_img, N, 3|1), ``object_score_logits`` (B_img, N, 1).
    """
    if image_embeddings is None:
        image_embeddings = corrected_image_embeddings(tracker, pixels)
    return tracker(
        image_embeddings=image_embeddings,
        input_points=input_points,
        input_labels=input_labels,
        input_boxes=input_boxes,
        input_masks=input_masks,
        multimask_output=multimask_output,
    )
