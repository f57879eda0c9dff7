"""Meta's ``sam3.pt`` layout converted to ours (transformers' names), and back.

Meta keeps the image detector under ``detector.`` and the interactive/video tracker under
``tracker.`` (its FPN neck under ``detector.backbone.vision_backbone.sam2_convs``). Ours are
transformers' ``Sam3Model`` names for the detector and ``Sam3VideoModel``'s ``tracker_model.`` /
``tracker_neck.`` names for the interactive head and its video memory. Besides the names,
five things differ:

* attention projections are fused, q, k, v stacked along dim 0: ``attn.qkv`` in the ViT and
  ``nn.MultiheadAttention``'s ``in_proj_weight``/``in_proj_bias`` everywhere else (the tracker's
  attention keeps separate q/k/v in both);
* the ViT's learned position table has a cls slot first, (1, 1 + P², C); ours is (1, P², C);
* CLIP's ``text_projection`` is stored (in, out) for ``x @ W``; ours is a Linear, (out, in);
* the prompt encoder's four point-label embeddings are four (1, C) tables; ours is one (4, C);
* some tensors are used by no path (RoPE tables recomputed by the model, point projections
  of the geometry encoder, the tracker's ``no_mem_pos_enc``); :data:`META_IGNORED` names them.

One rename table, written once, is read in both directions. The functions work on any
tensors, ``meta``-device ones included, so key sets and shapes can be checked without weights.
Splitting and slicing return views: converting a memory-mapped checkpoint copies nothing.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache

import torch
from torch import Tensor

from sam3lib.checkpoint._keys import IgnoredKeys, describe_keys, is_ignored
from sam3lib.errors import CheckpointKeyError, NotASam3CheckpointError

META_PREFIX = "detector."

UNUSED_NO_MEMORY_PE_REASON = (
    "the tracker's 'no memory' position encoding, which neither Meta's nor transformers' "
    "tracker uses"
)

META_IGNORED: tuple[IgnoredKeys, ...] = (
    IgnoredKeys(r"tracker\.no_mem_pos_enc", UNUSED_NO_MEMORY_PE_REASON),
    IgnoredKeys(
        r"detector\.backbone\.vision_backbone\.trunk\.blocks\.\d+\.attn\.freqs_cis",
        "complex RoPE tables, recomputed by the model",
    ),
    IgnoredKeys(
        r"detector\.geometry_encoder\.points_(direct|pool|pos_enc)_project\.(weight|bias)",
        "point-prompt projections, unused by text and box prompts",
    ),
)

_META_DOWNSAMPLER_STAGES = 4  # the memory encoder's mask downsampler in Meta's builder

_FIELD_PATTERNS = {"i": r"\d+", "p": r"weight|bias", "qkv": r"[qkv]", "row": r"\d+"}
_QKV = ("q", "k", "v")


class _Transform(enum.Enum):
    RENAME = enum.auto()
    SPLIT_QKV = enum.auto()  # one fused (3·n, ...) Meta tensor <-> our q, k, v tensors
    DROP_CLS_SLOT = enum.auto()  # Meta (1, 1 + P², C) <-> our (1, P², C)
    TRANSPOSE = enum.auto()  # Meta (in, out) <-> our (out, in)
    STACK_ROWS = enum.auto()  # Meta (1, C) tensors numbered {row} <-> the rows of our (N, C)


@dataclass(frozen=True)
class _Rule:
    """One Meta key template and its counterpart in our layout.

    Templates use ``{i}`` for a layer index, ``{p}`` for ``weight``/``bias``, on our side of a
    split ``{qkv}``, and on Meta's side of a stack ``{row}``. ``only_with`` disambiguates the
    reverse direction: the rule applies to our key only when the state dict also holds this
    (templated) key of ours.
    """

    meta: str
    ours: str
    transform: _Transform = _Transform.RENAME
    only_with: str | None = None


def _module(meta: str, ours: str, *, only_with: str | None = None) -> list[_Rule]:
    """A renamed module: its weight and bias follow."""
    return [_Rule(meta + ".{p}", ours + ".{p}", only_with=only_with)]


def _tensor(meta: str, ours: str, transform: _Transform = _Transform.RENAME) -> list[_Rule]:
    return [_Rule(meta, ours, transform)]


def _attention(meta: str, ours: str, out_proj: str = "o_proj") -> list[_Rule]:
    """``nn.MultiheadAttention`` (fused input projection) -> separate q/k/v projections."""
    return [
        _Rule(meta + ".in_proj_{p}", ours + ".{qkv}_proj.{p}", _Transform.SPLIT_QKV),
        *_module(meta + ".out_proj", f"{ours}.{out_proj}"),
    ]


def _separate_attention(meta: str, ours: str) -> list[_Rule]:
    """SAM's own attention (the tracker's): q/k/v already separate, ``out_proj`` -> ``o_proj``."""
    return [
        _Rule(meta + ".{qkv}_proj.{p}", ours + ".{qkv}_proj.{p}"),
        *_module(meta + ".out_proj", ours + ".o_proj"),
    ]


def _mlp(meta: str, ours: str, num_layers: int) -> list[_Rule]:
    """Meta's ``MLP.layers.0 .. n-1`` -> our ``layer1 .. layern`` (the detector's MLPs)."""
    return [
        rule
        for k in range(num_layers)
        for rule in _module(f"{meta}.layers.{k}", f"{ours}.layer{k + 1}")
    ]


def _feed_forward(meta: str, ours: str, num_layers: int = 3) -> list[_Rule]:
    """Meta's ``MLP.layers.0 .. n-1`` -> the tracker's ``proj_in, layers.0 .. n-3, proj_out``."""
    last = num_layers - 1
    inner = [f"layers.{k - 1}" for k in range(1, last)]
    ours_names = ["proj_in", *inner, "proj_out"]
    return [
        rule
        for k, name in enumerate(ours_names)
        for rule in _module(f"{meta}.layers.{k}", f"{ours}.{name}")
    ]


def _encoder_layer() -> list[_Rule]:
    """A pre-norm layer of the geometry or fusion encoder."""
    return [
        *_attention("self_attn", "self_attn"),
        *_attention("cross_attn_image", "cross_attn"),
        *_module("linear1", "mlp.fc1"),
        *_module("linear2", "mlp.fc2"),
        *_module("norm1", "layer_norm1"),
        *_module("norm2", "layer_norm2"),
        *_module("norm3", "layer_norm3"),
    ]


def _fpn_level() -> list[_Rule]:
    """One level of an FPN neck (the detector's ``convs`` or the tracker's ``sam2_convs``)."""
    return [
        # Ours are nn.Sequential: ×4 is (ConvT, GELU, ConvT) at 0 and 2, ×2 is (ConvT,) at 0.
        *_module("dconv_2x2_0", "scale_layers.0", only_with="scale_layers.2.weight"),
        *_module("dconv_2x2_1", "scale_layers.2"),
        *_module("dconv_2x2", "scale_layers.0"),
        *_module("conv_1x1", "proj1"),
        *_module("conv_3x3", "proj2"),
    ]


def _two_way_block() -> list[_Rule]:
    """One block of the tracker mask decoder's two-way transformer."""
    return [
        *_separate_attention("self_attn", "self_attn"),
        *_separate_attention("cross_attn_token_to_image", "cross_attn_token_to_image"),
        *_separate_attention("cross_attn_image_to_token", "cross_attn_image_to_token"),
        *_module("mlp.lin1", "mlp.proj_in"),
        *_module("mlp.lin2", "mlp.proj_out"),
        *_module("norm1", "layer_norm1"),
        *_module("norm2", "layer_norm2"),
        *_module("norm3", "layer_norm3"),
        *_module("norm4", "layer_norm4"),
    ]


def _mask_downsampler() -> list[_Rule]:
    """The memory encoder's mask downsampler. Meta's is one Sequential, (conv, LN2d, GELU) × 4
    then the 1×1 conv at index 12; Meta builds it with 4 stages only, so a smaller test model
    keeps those indices (its final conv is still 12)."""
    stages = _META_DOWNSAMPLER_STAGES
    return [
        *(
            rule
            for n in range(stages)
            for rule in (
                *_module(f"encoder.{3 * n}", f"layers.{n}.conv"),
                *_module(f"encoder.{3 * n + 1}", f"layers.{n}.layer_norm"),
            )
        ),
        *_module(f"encoder.{3 * stages}", "final_conv"),
    ]


def _section(meta_prefix: str, ours_prefix: str, *groups: list[_Rule]) -> list[_Rule]:
    return [
        replace(
            rule,
            meta=meta_prefix + rule.meta,
            ours=ours_prefix + rule.ours,
            only_with=None if rule.only_with is None else ours_prefix + rule.only_with,
        )
        for group in groups
        for rule in group
    ]


_RULES: tuple[_Rule, ...] = (
    *_section(
        "detector.backbone.vision_backbone.trunk.",
        "vision_encoder.backbone.",
        _tensor("pos_embed", "embeddings.position_embeddings", _Transform.DROP_CLS_SLOT),
        _module("patch_embed.proj", "embeddings.patch_embeddings.projection"),
        _module("ln_pre", "layer_norm"),
        _module("blocks.{i}.norm1", "layers.{i}.layer_norm1"),
        _module("blocks.{i}.norm2", "layers.{i}.layer_norm2"),
        _tensor(
            "blocks.{i}.attn.qkv.{p}", "layers.{i}.attention.{qkv}_proj.{p}", _Transform.SPLIT_QKV
        ),
        _module("blocks.{i}.attn.proj", "layers.{i}.attention.o_proj"),
        _module("blocks.{i}.mlp.fc1", "layers.{i}.mlp.fc1"),
        _module("blocks.{i}.mlp.fc2", "layers.{i}.mlp.fc2"),
    ),
    *_section(
        "detector.backbone.vision_backbone.convs.{i}.",
        "vision_encoder.neck.fpn_layers.{i}.",
        _fpn_level(),
    ),
    *_section(
        "detector.backbone.language_backbone.",
        "",
        _module("resizer", "text_projection"),
    ),
    *_section(
        "detector.backbone.language_backbone.encoder.",
        "text_encoder.",
        _tensor("token_embedding.weight", "text_model.embeddings.token_embedding.weight"),
        _tensor("positional_embedding", "text_model.embeddings.position_embedding.weight"),
        _module("ln_final", "text_model.final_layer_norm"),
        _tensor("text_projection", "text_projection.weight", _Transform.TRANSPOSE),
    ),
    *_section(
        "detector.backbone.language_backbone.encoder.transformer.resblocks.{i}.",
        "text_encoder.text_model.encoder.layers.{i}.",
        _attention("attn", "self_attn", out_proj="out_proj"),
        _module("ln_1", "layer_norm1"),
        _module("ln_2", "layer_norm2"),
        _module("mlp.c_fc", "mlp.fc1"),
        _module("mlp.c_proj", "mlp.fc2"),
    ),
    *_section(
        "detector.geometry_encoder.",
        "geometry_encoder.",
        _module("boxes_direct_project", "boxes_direct_project"),
        _module("boxes_pool_project", "boxes_pool_project"),
        _module("boxes_pos_enc_project", "boxes_pos_enc_project"),
        _module("label_embed", "label_embed"),
        _module("cls_embed", "cls_embed"),
        _module("img_pre_norm", "vision_layer_norm"),
        _module("norm", "prompt_layer_norm"),
        _module("final_proj", "final_proj"),
        _module("encode_norm", "output_layer_norm"),
    ),
    *_section(
        "detector.geometry_encoder.encode.{i}.", "geometry_encoder.layers.{i}.", _encoder_layer()
    ),
    *_section(
        "detector.transformer.encoder.layers.{i}.", "detr_encoder.layers.{i}.", _encoder_layer()
    ),
    *_section(
        "detector.transformer.decoder.",
        "detr_decoder.",
        _module("query_embed", "query_embed"),
        _module("reference_points", "reference_points"),
        _module("presence_token", "presence_token"),
        _mlp("presence_token_head", "presence_head", 3),
        _module("presence_token_out_norm", "presence_layer_norm"),
        _module("norm", "output_layer_norm"),
        _mlp("bbox_embed", "box_head", 3),
        _mlp("ref_point_head", "ref_point_head", 2),
        _mlp("boxRPB_embed_x", "box_rpb_embed_x", 2),
        _mlp("boxRPB_embed_y", "box_rpb_embed_y", 2),
    ),
    *_section(
        "detector.transformer.decoder.layers.{i}.",
        "detr_decoder.layers.{i}.",
        _attention("self_attn", "self_attn"),
        _module("norm2", "self_attn_layer_norm"),
        _attention("ca_text", "text_cross_attn"),
        _module("catext_norm", "text_cross_attn_layer_norm"),
        _attention("cross_attn", "vision_cross_attn"),
        _module("norm1", "vision_cross_attn_layer_norm"),
        _module("linear1", "mlp.fc1"),
        _module("linear2", "mlp.fc2"),
        _module("norm3", "mlp_layer_norm"),
    ),
    *_section(
        "detector.dot_prod_scoring.",
        "dot_product_scoring.",
        _mlp("prompt_mlp", "text_mlp", 2),
        _module("prompt_mlp.out_norm", "text_mlp_out_norm"),
        _module("prompt_proj", "text_proj"),
        _module("hs_proj", "query_proj"),
    ),
    *_section(
        "detector.segmentation_head.",
        "mask_decoder.",
        _module("pixel_decoder.conv_layers.{i}", "pixel_decoder.conv_layers.{i}"),
        _module("pixel_decoder.norms.{i}", "pixel_decoder.norms.{i}"),
        _module("mask_predictor.mask_embed.layers.{i}", "mask_embedder.layers.{i}"),
        _module("instance_seg_head", "instance_projection"),
        _module("semantic_seg_head", "semantic_projection"),
        _attention("cross_attend_prompt", "prompt_cross_attn"),
        _module("cross_attn_norm", "prompt_cross_attn_norm"),
    ),
    # The interactive head: the tracker's neck, prompt encoder and mask decoder.
    *_section(
        "detector.backbone.vision_backbone.sam2_convs.{i}.",
        "tracker_neck.fpn_layers.{i}.",
        _fpn_level(),
    ),
    *_section("tracker.", "tracker_model.", _tensor("no_mem_embed", "no_memory_embedding")),
    *_section(
        "tracker.sam_prompt_encoder.",
        "tracker_model.prompt_encoder.",
        _tensor(
            "pe_layer.positional_encoding_gaussian_matrix", "shared_embedding.positional_embedding"
        ),
        _tensor("point_embeddings.{row}.weight", "point_embed.weight", _Transform.STACK_ROWS),
        _module("not_a_point_embed", "not_a_point_embed"),
        _module("no_mask_embed", "no_mask_embed"),
        _module("mask_downscaling.0", "mask_embed.conv1"),
        _module("mask_downscaling.1", "mask_embed.layer_norm1"),
        _module("mask_downscaling.3", "mask_embed.conv2"),
        _module("mask_downscaling.4", "mask_embed.layer_norm2"),
        _module("mask_downscaling.6", "mask_embed.conv3"),
    ),
    *_section(
        "tracker.sam_mask_decoder.",
        "tracker_model.mask_decoder.",
        _module("iou_token", "iou_token"),
        _module("mask_tokens", "mask_tokens"),
        _module("obj_score_token", "obj_score_token"),
        _module("output_upscaling.0", "upscale_conv1"),
        _module("output_upscaling.1", "upscale_layer_norm"),
        _module("output_upscaling.3", "upscale_conv2"),
        _module("conv_s0", "conv_s0"),
        _module("conv_s1", "conv_s1"),
        # Meta's 3-layer MLPs; the IoU head's depth is TrackerConfig.iou_head_depth (3).
        _feed_forward("output_hypernetworks_mlps.{i}", "output_hypernetworks_mlps.{i}"),
        _feed_forward("iou_prediction_head", "iou_prediction_head"),
        _feed_forward("pred_obj_score_head", "pred_obj_score_head"),
    ),
    # The tracker's video memory (transformers' Sam3TrackerVideoModel names).
    *_section(
        "tracker.",
        "tracker_model.",
        _tensor("maskmem_tpos_enc", "memory_temporal_positional_encoding"),
        _tensor("no_obj_ptr", "no_object_pointer"),
        _tensor("no_obj_embed_spatial", "occlusion_spatial_embedding_parameter"),
        _module("mask_downsample", "mask_downsample"),
        _feed_forward("obj_ptr_proj", "object_pointer_proj"),
        _module("obj_ptr_tpos_proj", "temporal_positional_encoding_projection_layer"),
    ),
    *_section(
        "tracker.maskmem_backbone.",
        "tracker_model.memory_encoder.",
        _section("mask_downsampler.", "mask_downsampler.", _mask_downsampler()),
        _module("pix_feat_proj", "feature_projection"),
        _module("fuser.layers.{i}.dwconv", "memory_fuser.layers.{i}.depthwise_conv"),
        _module("fuser.layers.{i}.norm", "memory_fuser.layers.{i}.layer_norm"),
        _module("fuser.layers.{i}.pwconv1", "memory_fuser.layers.{i}.pointwise_conv1"),
        _module("fuser.layers.{i}.pwconv2", "memory_fuser.layers.{i}.pointwise_conv2"),
        _tensor("fuser.layers.{i}.gamma", "memory_fuser.layers.{i}.scale"),
        _module("out_proj", "projection"),
    ),
    *_section(
        "tracker.transformer.encoder.",
        "tracker_model.memory_attention.",
        _section(
            "layers.{i}.",
            "layers.{i}.",
            _separate_attention("self_attn", "self_attn"),
            _separate_attention("cross_attn_image", "cross_attn_image"),
            _module("linear1", "linear1"),
            _module("linear2", "linear2"),
            _module("norm1", "layer_norm1"),
            _module("norm2", "layer_norm2"),
            _module("norm3", "layer_norm3"),
        ),
        _module("norm", "layer_norm"),
    ),
    *_section(
        "tracker.sam_mask_decoder.transformer.",
        "tracker_model.mask_decoder.transformer.",
        _section("layers.{i}.", "layers.{i}.", _two_way_block()),
        _separate_attention("final_attn_token_to_image", "final_attn_token_to_image"),
        _module("norm_final_attn", "layer_norm_final_attn"),
    ),
)


@cache
def _compile(template: str) -> re.Pattern[str]:
    pieces = re.split(r"\{(\w+)\}", template)  # literal, field, literal, field, ...
    return re.compile(
        "".join(
            re.escape(piece) if n % 2 == 0 else f"(?P<{piece}>{_FIELD_PATTERNS[piece]})"
            for n, piece in enumerate(pieces)
        )
    )


def _match(template: str, key: str) -> dict[str, str] | None:
    found = _compile(template).fullmatch(key)
    return None if found is None else found.groupdict()


def meta_to_ours(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Convert a Meta ``sam3.pt`` state dict (``detector.*``, ``tracker.*``) to our layout.

    Keys on :data:`META_IGNORED` are dropped; any other key must be a known detector or
    interactive-head tensor.

    Raises:
        NotASam3CheckpointError: if no key is a SAM 3 detector tensor.
        CheckpointKeyError: if some keys are unknown, collide, or have impossible shapes.

    Example:
        >>> pos = torch.zeros(1, 1 + 24 * 24, 1024)
        >>> ours = meta_to_ours({"detector.backbone.vision_backbone.trunk.pos_embed": pos})
        >>> ours["vision_encoder.backbone.embeddings.position_embeddings"].shape
        torch.Size([1, 576, 1024])
    """
    converted: dict[str, Tensor] = {}
    rows: dict[str, dict[int, tuple[str, Tensor]]] = {}
    unknown: list[str] = []
    has_detector = False
    for key, tensor in state_dict.items():
        if is_ignored(key, META_IGNORED):
            continue
        found = _find_meta_rule(key)
        if found is None:
            unknown.append(key)
            continue
        rule, fields = found
        has_detector = has_detector or key.startswith(META_PREFIX)
        if rule.transform is _Transform.STACK_ROWS:
            rows.setdefault(rule.ours.format(**fields), {})[int(fields["row"])] = (key, tensor)
            continue
        for our_key, value in _to_ours(rule, fields, key, tensor).items():
            if our_key in converted:
                raise CheckpointKeyError(f"two tensors of the Meta checkpoint map to {our_key}")
            converted[our_key] = value
    if not has_detector:
        raise NotASam3CheckpointError(
            "the checkpoint holds no SAM 3 detector tensors (no known 'detector.*' key); "
            f"its keys include:\n{describe_keys(state_dict)}"
        )
    if unknown:
        raise CheckpointKeyError(
            f"{len(unknown)} tensors of the Meta checkpoint are neither SAM 3 tensors "
            f"nor on the list of ignored ones:\n{describe_keys(unknown)}"
        )
    for our_key, numbered in rows.items():
        converted[our_key] = _stack_rows(our_key, numbered)
    return converted


def ours_to_meta(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """The inverse of :func:`meta_to_ours`: fuse q/k/v, add a zero cls slot, transpose CLIP's
    projection, split the point embeddings. Ignored tensors are not recreated. Used to write
    Meta-layout test files.

    Raises:
        CheckpointKeyError: if a key has no Meta name or a q/k/v triple is incomplete.
    """
    converted: dict[str, Tensor] = {}
    fused: dict[str, dict[str, Tensor]] = {}
    unknown: list[str] = []
    for key, tensor in state_dict.items():
        found = _find_our_rule(key, state_dict)
        if found is None:
            unknown.append(key)
            continue
        rule, fields = found
        if rule.transform is _Transform.SPLIT_QKV:
            fused.setdefault(rule.meta.format(**fields), {})[fields["qkv"]] = tensor
        elif rule.transform is _Transform.STACK_ROWS:
            for row in range(tensor.shape[0]):
                converted[rule.meta.format(row=row, **fields)] = tensor[row : row + 1]
        else:
            converted[rule.meta.format(**fields)] = _to_meta(rule, tensor)
    if unknown:
        raise CheckpointKeyError(f"no Meta name for these tensors:\n{describe_keys(unknown)}")
    for meta_key, parts in fused.items():
        if set(parts) != set(_QKV):
            raise CheckpointKeyError(
                f"{meta_key} needs q, k and v projections; got only {sorted(parts)}"
            )
        converted[meta_key] = torch.cat([parts[name] for name in _QKV], dim=0)
    return converted


def _find_meta_rule(key: str) -> tuple[_Rule, dict[str, str]] | None:
    for rule in _RULES:
        fields = _match(rule.meta, key)
        if fields is not None:
            return rule, fields
    return None


def _stack_rows(our_key: str, numbered: dict[int, tuple[str, Tensor]]) -> Tensor:
    """Meta's (1, C) tables 0 .. N-1 as the rows of one (N, C) tensor."""
    if sorted(numbered) != list(range(len(numbered))):
        raise CheckpointKeyError(
            f"{our_key} needs Meta tables numbered 0 to {len(numbered) - 1}; got {sorted(numbered)}"
        )
    parts = [numbered[row] for row in range(len(numbered))]
    for key, tensor in parts:
        if tensor.ndim != 2 or tensor.shape[0] != 1 or tensor.shape != parts[0][1].shape:
            raise CheckpointKeyError(
                f"{key} has shape {tuple(tensor.shape)}; expected (1, C) like every table of "
                f"{our_key}"
            )
    return torch.cat([tensor for _, tensor in parts], dim=0)


def _find_our_rule(
    key: str, state_dict: Mapping[str, Tensor]
) -> tuple[_Rule, dict[str, str]] | None:
    for rule in _RULES:
        fields = _match(rule.ours, key)
        if fields is None:
            continue
        if rule.only_with is not None and rule.only_with.format(**fields) not in state_dict:
            continue
        return rule, fields
    return None


def _to_ours(rule: _Rule, fields: dict[str, str], key: str, tensor: Tensor) -> dict[str, Tensor]:
    shape = tuple(tensor.shape)
    if rule.transform is _Transform.SPLIT_QKV:
        if tensor.ndim == 0 or shape[0] % 3:
            raise CheckpointKeyError(
                f"{key} has shape {shape}; fused q/k/v needs a first dimension divisible by 3"
            )
        parts = tensor.chunk(3, dim=0)
        return {
            rule.ours.format(qkv=name, **fields): part
            for name, part in zip(_QKV, parts, strict=True)
        }
    our_key = rule.ours.format(**fields)
    if rule.transform is _Transform.DROP_CLS_SLOT:
        grid_tokens = shape[1] - 1 if tensor.ndim == 3 else 0
        if shape[0] != 1 or grid_tokens < 1 or math.isqrt(grid_tokens) ** 2 != grid_tokens:
            raise CheckpointKeyError(
                f"{key} has shape {shape}; expected (1, 1 + P*P, C): a cls slot, then a grid"
            )
        return {our_key: tensor[:, 1:]}
    if rule.transform is _Transform.TRANSPOSE:
        if tensor.ndim != 2:
            raise CheckpointKeyError(f"{key} has shape {shape}; expected a matrix")
        return {our_key: tensor.t().contiguous()}
    return {our_key: tensor}


def _to_meta(rule: _Rule, tensor: Tensor) -> Tensor:
    if rule.transform is _Transform.DROP_CLS_SLOT:
        return torch.cat((tensor.new_zeros(1, 1, tensor.shape[-1]), tensor), dim=1)
    if rule.transform is _Transform.TRANSPOSE:
        return tensor.t().contiguous()
    return tensor
