"""transformers' ``Sam3Model`` set up as our parity reference (a dev dependency).

transformers' box path calls ``torchvision.ops.roi_align``; torchvision has no CPU build for
our torch, so :func:`install_reference_roi_align` hands transformers the float64 reference
from :mod:`helpers.reference_roi_align` — never our own implementation, which keeps the
parity test from checking our code against itself.
"""

from __future__ import annotations

import types
from pathlib import Path
from typing import Any

import torch

from helpers.reference_roi_align import torchvision_style_roi_align

PAD_BOX_LABEL = -10  # transformers' label for a padding box


def install_reference_roi_align() -> None:
    import transformers.models.sam3.modeling_sam3 as modeling

    ops = types.SimpleNamespace(roi_align=torchvision_style_roi_align)
    modeling.torchvision = types.SimpleNamespace(ops=ops)  # type: ignore[attr-defined]


def tiny_transformers_config() -> Any:
    """The transformers twin of ``Sam3Config.tiny()``, ViT LayerNorm eps set to Meta's 1e-5."""
    from transformers import Sam3Config

    width, ffn, heads = 32, 64, 2
    small = {"hidden_size": width, "num_attention_heads": heads, "intermediate_size": ffn}
    return Sam3Config(
        vision_config={
            "backbone_config": {
                "model_type": "sam3_vit_model",
                **small,
                "num_hidden_layers": 2,
                "image_size": 168,
                "patch_size": 14,
                "window_size": 6,
                "global_attn_indexes": [1],
                "pretrain_image_size": 84,
                "layer_norm_eps": 1e-5,
            },
            "fpn_hidden_size": width,
            "backbone_feature_sizes": [[48, 48], [24, 24], [12, 12]],
        },
        # transformers does not merge a text sub-config with SAM 3's defaults: give it all.
        text_config={
            "model_type": "clip_text_model",
            **small,
            "vocab_size": 49408,
            "projection_dim": 16,
            "num_hidden_layers": 2,
            "max_position_embeddings": 32,
            "hidden_act": "gelu",
            "layer_norm_eps": 1e-5,
            "bos_token_id": 49406,
            "eos_token_id": 49407,
            "pad_token_id": 49407,
        },
        geometry_encoder_config={**small, "num_layers": 2},
        detr_encoder_config={**small, "num_layers": 2},
        detr_decoder_config={**small, "num_layers": 2, "num_queries": 10},
        mask_decoder_config={"hidden_size": width, "num_attention_heads": heads},
    )


def build_tiny_reference(seed: int = 0) -> Any:
    """A tiny transformers ``Sam3Model`` whose weights are its init plus seeded noise.

    The noise moves LayerNorm/GroupNorm affine parameters and biases away from 1/0 so that a
    wrong wiring of any of them shows up in the outputs.
    """
    from transformers import Sam3Model

    torch.manual_seed(seed)
    model = Sam3Model(tiny_transformers_config()).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.1)
    return model


def save_reference(model: Any, directory: Path) -> Path:
    model.save_pretrained(directory)
    return directory


def paired_outputs(reference: Any, ours: Any) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """transformers' output fields next to ours (``Sam3Outputs``), as (reference, ours)."""
    return {
        "mask_logits": (reference.pred_masks, ours.mask_logits),
        "boxes_xyxy": (reference.pred_boxes, ours.boxes_xyxy),
        "query_logits": (reference.pred_logits, ours.query_logits),
        "presence_logit": (reference.presence_logits.squeeze(-1), ours.presence_logit),
        "semantic_logits": (reference.semantic_seg, ours.semantic_logits),
    }
