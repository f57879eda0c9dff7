"""``config.json`` in transformers' format: read into a :class:`Sam3Config`, and written from one.

Reading goes through :meth:`Sam3Config.from_transformers_dict`. Writing produces the subset
of transformers' ``Sam3Config`` (detector only) or ``Sam3VideoConfig`` (with the interactive
head) that describes the weights, complete enough for transformers' own ``from_pretrained``
(its CLIP text sub-config is not merged with SAM 3's defaults, so every text field is
written).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sam3lib.errors import ConfigError
from sam3lib.model.config import (
    MASK_DOWNSAMPLER_CONV,
    Sam3Config,
    VideoConfig,
    VisionConfig,
    quadrupling_channels,
)

CONFIG_FILENAME = "config.json"


def read_transformers_config(path: Path) -> Sam3Config:
    """Parse a transformers ``config.json`` (model_type ``sam3`` or ``sam3_video``).

    Raises:
        ConfigError: if the file is not JSON or not a SAM 3 configuration.

    Example:
        >>> config = read_transformers_config(Path("sam3/config.json"))  # doctest: +SKIP
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ConfigError(f"{path} is not a readable JSON file: {err}") from err
    if not isinstance(data, dict):
        raise ConfigError(f"{path} holds a JSON {type(data).__name__}, not an object")
    return Sam3Config.from_transformers_dict(data)


def config_to_transformers_dict(config: Sam3Config) -> dict[str, Any]:
    """The transformers configuration dictionary describing ``config``.

    A detector-only config gives a ``Sam3Config`` (``model_type`` ``sam3``); one with the
    interactive head gives a ``Sam3VideoConfig`` (``sam3_video``) holding that as
    ``detector_config`` and the head and its video memory (when ``config.video`` is set) as
    ``tracker_config``, as the hub's ``facebook/sam3`` does. ``Sam3Config.from_transformers_dict``
    reads either back to an equal config (a tracker without video memory reads back with the
    default one; the loader drops it for weights without), and transformers builds from it a
    model whose state dict has our keys and shapes (``Sam3Model``; ``Sam3VideoModel`` less
    its unused ``no_memory_positional_encoding`` and second position matrix).

    Example:
        >>> d = config_to_transformers_dict(Sam3Config.tiny())
        >>> d["model_type"], sorted(d["tracker_config"]["mask_decoder_config"])[:2]
        ('sam3_video', ['attention_downsample_rate', 'dynamic_multimask_stability_delta'])
        >>> Sam3Config.from_transformers_dict(d) == Sam3Config.tiny()
        True
    """
    detector = _detector_dict(config)
    tracker = config.tracker
    if tracker is None:
        return detector
    vision = config.vision
    return {
        "model_type": "sam3_video",
        "architectures": ["Sam3VideoModel"],
        "detector_config": detector,
        "tracker_config": {
            "model_type": "sam3_tracker_video",
            "image_size": vision.image_size,
            # The tracker's own copy of the ViT config (transformers' Sam3TrackerModel builds
            # its vision encoder from it); the neck fields are the tracker neck's.
            "vision_config": _vision_dict(vision, tracker.hidden_size, tracker.fpn_scale_factors),
            "prompt_encoder_config": {
                "hidden_size": tracker.hidden_size,
                "image_size": vision.image_size,
                "patch_size": vision.patch_size,
                "mask_input_channels": tracker.mask_input_channels,
                "layer_norm_eps": tracker.layer_norm_eps,
            },
            "mask_decoder_config": {
                "hidden_size": tracker.hidden_size,
                "num_attention_heads": tracker.num_heads,
                "mlp_dim": tracker.mlp_dim,
                "num_hidden_layers": tracker.num_layers,
                "attention_downsample_rate": tracker.attention_downsample_rate,
                "num_multimask_outputs": tracker.num_multimask_outputs,
                "iou_head_depth": tracker.iou_head_depth,
                "iou_head_hidden_dim": tracker.iou_head_hidden_size,
                "dynamic_multimask_stability_delta": tracker.stability_delta,
                "dynamic_multimask_stability_thresh": tracker.stability_threshold,
            },
            "memory_attention_rope_feat_sizes": [vision.grid_size, vision.grid_size],
            **_video_fields(config.video),
        },
        # transformers does not derive it from the image size (288 = 4 × 72 for SAM 3).
        "low_res_mask_size": 4 * vision.grid_size,
    }


def _video_fields(video: VideoConfig | None) -> dict[str, Any]:
    """The video-memory fields of transformers' ``Sam3TrackerVideoConfig`` (none when the
    config has no video memory: transformers' defaults then stand for weights we lack).

    Raises:
        ConfigError: a mask downsampler whose widths are not ×4 per stage (1 → 4 → 16 ...),
            which transformers cannot describe.
    """
    if video is None:
        return {}
    encoder, attention = video.memory_encoder, video.memory_attention
    quadrupling = quadrupling_channels(len(encoder.downsampler_channels))
    if encoder.downsampler_channels != quadrupling:
        raise ConfigError(
            f"mask downsampler widths {encoder.downsampler_channels} cannot be written for "
            f"transformers, which multiplies them by 4 per stage {quadrupling}"
        )
    return {
        "num_maskmem": video.num_memories,
        "max_object_pointers_in_encoder": video.max_object_pointers,
        "sigmoid_scale_for_mem_enc": encoder.mask_scale,
        "sigmoid_bias_for_mem_enc": encoder.mask_bias,
        "memory_attention_hidden_size": attention.hidden_size,
        "memory_attention_num_layers": attention.num_layers,
        "memory_attention_num_attention_heads": attention.num_heads,
        "memory_attention_feed_forward_hidden_size": attention.mlp_dim,
        "rope_parameters": {"rope_type": "default", "rope_theta": attention.rope_theta},
        "memory_encoder_hidden_size": encoder.hidden_size,
        "memory_encoder_output_channels": encoder.memory_channels,
        "mask_downsampler_embed_dim": encoder.hidden_size,
        **MASK_DOWNSAMPLER_CONV,
        "mask_downsampler_total_stride": encoder.mask_stride,
        "memory_fuser_num_layers": encoder.fuser_layers,
        "memory_fuser_embed_dim": encoder.hidden_size,
        "memory_fuser_intermediate_dim": encoder.fuser_mlp_ratio * encoder.hidden_size,
        "memory_fuser_kernel_size": encoder.fuser_kernel_size,
        "memory_fuser_padding": encoder.fuser_kernel_size // 2,
        "memory_fuser_layer_scale_init_value": encoder.layer_scale_init,
    }


def _vision_dict(
    vision: VisionConfig, fpn_size: int, fpn_scale_factors: tuple[float, ...]
) -> dict[str, Any]:
    """transformers' ``Sam3VisionConfig``: the ViT and an FPN neck of this width and levels."""
    feature_sizes = [int(vision.grid_size * s) for s in fpn_scale_factors if s >= 1.0]
    return {
        "model_type": "sam3_vision_model",
        "backbone_config": {
            "model_type": "sam3_vit_model",
            "image_size": vision.image_size,
            "patch_size": vision.patch_size,
            "num_channels": vision.num_channels,
            "hidden_size": vision.hidden_size,
            "intermediate_size": vision.intermediate_size,
            "num_hidden_layers": vision.num_layers,
            "num_attention_heads": vision.num_heads,
            "window_size": vision.window_size,
            "global_attn_indexes": list(vision.global_attention_layers),
            "pretrain_image_size": vision.pretrain_grid_size * vision.patch_size,
            "layer_norm_eps": vision.layer_norm_eps,
            "hidden_act": "gelu",
            "rope_parameters": {"rope_type": "axial", "rope_theta": vision.rope_theta},
        },
        "fpn_hidden_size": fpn_size,
        "scale_factors": list(fpn_scale_factors),
        "backbone_feature_sizes": [[size, size] for size in feature_sizes],
    }


def _detector_dict(config: Sam3Config) -> dict[str, Any]:
    """transformers' ``Sam3Config`` (the detector)."""
    vision, text = config.vision, config.text
    return {
        "model_type": "sam3",
        "architectures": ["Sam3Model"],
        "vision_config": _vision_dict(vision, vision.fpn_size, vision.fpn_scale_factors),
        "text_config": {
            "model_type": "clip_text_model",
            "vocab_size": text.vocab_size,
            "max_position_embeddings": text.context_length,
            "hidden_size": text.hidden_size,
            "intermediate_size": text.intermediate_size,
            "num_hidden_layers": text.num_layers,
            "num_attention_heads": text.num_heads,
            "projection_dim": text.clip_projection_size,
            "layer_norm_eps": text.layer_norm_eps,
            "hidden_act": "gelu",
            "bos_token_id": text.start_token_id,
            "eos_token_id": text.end_token_id,
            "pad_token_id": text.end_token_id,
        },
        "geometry_encoder_config": {
            "hidden_size": config.geometry.hidden_size,
            "num_layers": config.geometry.num_layers,
            "num_attention_heads": config.geometry.num_heads,
            "intermediate_size": config.geometry.intermediate_size,
            "roi_size": config.geometry.roi_size,
            "layer_norm_eps": config.geometry.layer_norm_eps,
        },
        "detr_encoder_config": {
            "hidden_size": config.fusion.hidden_size,
            "num_layers": config.fusion.num_layers,
            "num_attention_heads": config.fusion.num_heads,
            "intermediate_size": config.fusion.intermediate_size,
            "layer_norm_eps": config.fusion.layer_norm_eps,
        },
        "detr_decoder_config": {
            "hidden_size": config.decoder.hidden_size,
            "num_layers": config.decoder.num_layers,
            "num_attention_heads": config.decoder.num_heads,
            "intermediate_size": config.decoder.intermediate_size,
            "num_queries": config.decoder.num_queries,
            "layer_norm_eps": config.decoder.layer_norm_eps,
        },
        "mask_decoder_config": {
            "hidden_size": config.mask_head.hidden_size,
            "num_upsampling_stages": config.mask_head.num_upsampling_stages,
            "num_attention_heads": config.mask_head.num_heads,
            "layer_norm_eps": config.mask_head.layer_norm_eps,
        },
    }
