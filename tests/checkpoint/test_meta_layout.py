"""Meta's sam3.pt layout <-> ours: full-size key sets, what each transform means, errors."""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F
from checkpoint_factory import meta_device_tensors, shapes_of
from torch import Tensor, nn

from sam3lib.checkpoint import meta_to_ours, ours_to_meta
from sam3lib.checkpoint._keys import is_ignored
from sam3lib.checkpoint.meta_layout import META_IGNORED
from sam3lib.errors import CheckpointKeyError, NotASam3CheckpointError
from sam3lib.model import Sam3Config, Sam3Model

TRUNK = "detector.backbone.vision_backbone.trunk"


def test_every_meta_key_maps_onto_the_transformers_key_list(
    meta_key_shapes: dict[str, tuple[int, ...]], hf_key_shapes: dict[str, tuple[int, ...]]
) -> None:
    converted = shapes_of(meta_to_ours(meta_device_tensors(meta_key_shapes)))
    assert sorted(hf_key_shapes.keys() - converted.keys()) == []  # missing
    assert sorted(converted.keys() - hf_key_shapes.keys()) == []  # unexpected
    assert converted == hf_key_shapes


def test_every_meta_key_maps_onto_our_full_size_model(
    meta_key_shapes: dict[str, tuple[int, ...]],
) -> None:
    with torch.device("meta"):
        model = Sam3Model(Sam3Config.sam3())
    converted = shapes_of(meta_to_ours(meta_device_tensors(meta_key_shapes)))
    assert converted == shapes_of(model.state_dict())


def test_only_tracker_rope_tables_point_projections_and_tracker_neck_are_dropped(
    meta_key_shapes: dict[str, tuple[int, ...]],
) -> None:
    dropped = [key for key in meta_key_shapes if is_ignored(key, META_IGNORED)]
    tracker = [k for k in dropped if k.startswith("tracker.")]
    rope = [k for k in dropped if k.endswith(".attn.freqs_cis")]
    points = [k for k in dropped if ".geometry_encoder.points_" in k]
    tracker_neck = [k for k in dropped if ".sam2_convs." in k]
    detector_neck = [k for k in meta_key_shapes if ".vision_backbone.convs." in k]
    blocks = {m.group(1) for k in meta_key_shapes if (m := re.search(r"trunk\.blocks\.(\d+)\.", k))}

    assert len(tracker) == 309 == sum(k.startswith("tracker.") for k in meta_key_shapes)
    assert len(rope) == len(blocks) == 32
    assert len(points) == 6  # direct, pool and pos_enc projections, weight and bias
    assert len(tracker_neck) == len(detector_neck) == 22
    assert len(dropped) == len(tracker) + len(rope) + len(points) + len(tracker_neck)


def test_full_size_names_and_shapes_round_trip(
    meta_key_shapes: dict[str, tuple[int, ...]],
) -> None:
    kept = {k: s for k, s in meta_key_shapes.items() if not is_ignored(k, META_IGNORED)}
    back = ours_to_meta(meta_to_ours(meta_device_tensors(meta_key_shapes)))
    assert shapes_of(back) == kept


def test_ours_to_meta_and_back_gives_identical_tensors(tiny_state_dict: dict[str, Tensor]) -> None:
    back = meta_to_ours(ours_to_meta(tiny_state_dict))
    assert back.keys() == tiny_state_dict.keys()
    for key, tensor in tiny_state_dict.items():
        assert torch.equal(back[key], tensor), key


def test_fused_qkv_rows_are_query_then_key_then_value() -> None:
    q, k, v = torch.full((4, 4), 1.0), torch.full((4, 4), 2.0), torch.full((4, 4), 3.0)
    ours = meta_to_ours({f"{TRUNK}.blocks.3.attn.qkv.weight": torch.cat((q, k, v))})
    prefix = "vision_encoder.backbone.layers.3.attention"
    assert torch.equal(ours[f"{prefix}.q_proj.weight"], q)
    assert torch.equal(ours[f"{prefix}.k_proj.weight"], k)
    assert torch.equal(ours[f"{prefix}.v_proj.weight"], v)


def test_split_in_proj_computes_what_nn_multihead_attention_computes() -> None:
    torch.manual_seed(0)
    width, heads = 8, 2
    attention = nn.MultiheadAttention(width, heads, batch_first=True)
    meta = {
        f"detector.transformer.decoder.layers.0.ca_text.{name}": tensor.detach()
        for name, tensor in attention.state_dict().items()
    }
    ours = meta_to_ours(meta)
    prefix = "detr_decoder.layers.0.text_cross_attn"
    queries, memory = torch.randn(1, 3, width), torch.randn(1, 5, width)

    def project(name: str, x: Tensor) -> Tensor:
        y = F.linear(x, ours[f"{prefix}.{name}.weight"], ours[f"{prefix}.{name}.bias"])
        return y.unflatten(-1, (heads, -1)).transpose(1, 2)

    mixed = F.scaled_dot_product_attention(
        project("q_proj", queries), project("k_proj", memory), project("v_proj", memory)
    )
    actual = project("o_proj", mixed.transpose(1, 2).flatten(2)).transpose(1, 2).flatten(2)
    expected, _ = attention(queries, memory, memory, need_weights=False)
    torch.testing.assert_close(actual, expected)


def test_position_table_loses_its_cls_slot() -> None:
    table = torch.randn(1, 1 + 3 * 3, 4)
    ours = meta_to_ours({f"{TRUNK}.pos_embed": table})
    assert torch.equal(ours["vision_encoder.backbone.embeddings.position_embeddings"], table[:, 1:])


def test_position_table_without_a_cls_slot_is_rejected() -> None:
    with pytest.raises(CheckpointKeyError, match="pos_embed"):
        meta_to_ours({f"{TRUNK}.pos_embed": torch.randn(1, 3 * 3, 4)})


def test_clip_text_projection_computes_the_same_as_a_linear() -> None:
    projection = torch.randn(6, 4)  # Meta: (width, projection), used as x @ W
    ours = meta_to_ours({"detector.backbone.language_backbone.encoder.text_projection": projection})
    weight = ours["text_encoder.text_projection.weight"]
    x = torch.randn(2, 6)
    assert weight.shape == (4, 6)
    torch.testing.assert_close(F.linear(x, weight), x @ projection)


def test_neck_convolutions_land_at_their_sequential_index() -> None:
    neck = "detector.backbone.vision_backbone.convs"
    meta = {
        f"{neck}.0.dconv_2x2_0.weight": torch.randn(8, 4, 2, 2),
        f"{neck}.0.dconv_2x2_1.weight": torch.randn(4, 2, 2, 2),
        f"{neck}.1.dconv_2x2.weight": torch.randn(8, 4, 2, 2),
    }
    ours = meta_to_ours(meta)
    fpn = "vision_encoder.neck.fpn_layers"
    assert ours[f"{fpn}.0.scale_layers.0.weight"] is meta[f"{neck}.0.dconv_2x2_0.weight"]
    assert ours[f"{fpn}.0.scale_layers.2.weight"] is meta[f"{neck}.0.dconv_2x2_1.weight"]
    assert ours[f"{fpn}.1.scale_layers.0.weight"] is meta[f"{neck}.1.dconv_2x2.weight"]
    assert ours_to_meta(ours).keys() == meta.keys()


def test_allow_listed_keys_are_dropped_and_nothing_else(
    tiny_state_dict: dict[str, Tensor],
) -> None:
    meta = ours_to_meta(tiny_state_dict)
    extras = {
        "tracker.anything.weight": torch.zeros(1),
        f"{TRUNK}.blocks.0.attn.freqs_cis": torch.zeros(4, 2, dtype=torch.complex64),
        "detector.geometry_encoder.points_pool_project.bias": torch.zeros(1),
        "detector.backbone.vision_backbone.sam2_convs.1.conv_3x3.bias": torch.zeros(1),
    }
    assert meta_to_ours({**meta, **extras}).keys() == tiny_state_dict.keys()


def test_unknown_keys_are_an_error_that_lists_them(tiny_state_dict: dict[str, Tensor]) -> None:
    meta = ours_to_meta(tiny_state_dict)
    meta["detector.transformer.decoder.new_head.weight"] = torch.zeros(1)
    meta["optimizer.state"] = torch.zeros(1)
    with pytest.raises(CheckpointKeyError) as caught:
        meta_to_ours(meta)
    assert "detector.transformer.decoder.new_head.weight" in str(caught.value)
    assert "optimizer.state" in str(caught.value)


def test_a_dict_without_detector_tensors_is_not_sam3() -> None:
    with pytest.raises(NotASam3CheckpointError):
        meta_to_ours({"tracker.only.weight": torch.zeros(1), "detector.unrelated": torch.zeros(1)})


def test_an_incomplete_qkv_triple_cannot_be_fused() -> None:
    prefix = "detr_encoder.layers.0.self_attn"
    partial = {
        f"{prefix}.q_proj.weight": torch.zeros(2, 2),
        f"{prefix}.k_proj.weight": torch.zeros(2, 2),
    }
    with pytest.raises(CheckpointKeyError, match="in_proj_weight"):
        ours_to_meta(partial)


def test_a_key_of_ours_without_meta_name_is_an_error() -> None:
    with pytest.raises(CheckpointKeyError, match="not_a_module"):
        ours_to_meta({"not_a_module.weight": torch.zeros(1)})
