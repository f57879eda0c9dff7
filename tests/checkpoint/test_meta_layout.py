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
from sam3lib.checkpoint.layouts import HF_SHARED_IMAGE_PE as SHARED_IMAGE_PE
from sam3lib.checkpoint.layouts import HF_VIDEO_IGNORED
from sam3lib.checkpoint.meta_layout import META_IGNORED
from sam3lib.errors import CheckpointKeyError, NotASam3CheckpointError
from sam3lib.model import Sam3Config, Sam3Model
from sam3lib.model.video_memory import is_video_memory_key

TRUNK = "detector.backbone.vision_backbone.trunk"


def test_every_meta_key_maps_onto_the_transformers_key_list(
    meta_key_shapes: dict[str, tuple[int, ...]],
    hf_key_shapes: dict[str, tuple[int, ...]],
    hf_tracker_key_shapes: dict[str, tuple[int, ...]],
) -> None:
    """transformers' detector keys, and its tracker keys, video memory included, less the
    unused ``no_memory_positional_encoding`` and the second copy of the position matrix
    (transformers' names are ours)."""
    tracker = {
        key: shape
        for key, shape in hf_tracker_key_shapes.items()
        if not is_ignored(key, HF_VIDEO_IGNORED) and key != SHARED_IMAGE_PE
    }
    expected = {**hf_key_shapes, **tracker}
    converted = shapes_of(meta_to_ours(meta_device_tensors(meta_key_shapes)))
    assert sorted(expected.keys() - converted.keys()) == []  # missing
    assert sorted(converted.keys() - expected.keys()) == []  # unexpected
    assert converted == expected


def test_every_meta_key_maps_onto_our_full_size_model(
    meta_key_shapes: dict[str, tuple[int, ...]],
) -> None:
    with torch.device("meta"):
        model = Sam3Model(Sam3Config.sam3())
    converted = shapes_of(meta_to_ours(meta_device_tensors(meta_key_shapes)))
    assert converted == shapes_of(model.state_dict())


def test_only_the_unused_tensors_rope_tables_and_point_projections_are_dropped(
    meta_key_shapes: dict[str, tuple[int, ...]],
) -> None:
    dropped = [key for key in meta_key_shapes if is_ignored(key, META_IGNORED)]
    tracker = [k for k in dropped if k.startswith("tracker.")]
    rope = [k for k in dropped if k.endswith(".attn.freqs_cis")]
    points = [k for k in dropped if ".geometry_encoder.points_" in k]
    blocks = {m.group(1) for k in meta_key_shapes if (m := re.search(r"trunk\.blocks\.(\d+)\.", k))}

    assert tracker == ["tracker.no_mem_pos_enc"]  # no path of Meta's tracker reads it
    kept_tracker = [k for k in meta_key_shapes if k.startswith("tracker.") and k not in dropped]
    assert len(kept_tracker) == 309 - 1  # prompt encoder, mask decoder, video memory
    assert not any(".sam2_convs." in k for k in dropped)  # the tracker neck is loaded
    assert len(rope) == len(blocks) == 32
    assert len(points) == 6  # direct, pool and pos_enc projections, weight and bias
    assert len(dropped) == len(tracker) + len(rope) + len(points)


def test_metas_video_memory_lands_on_our_video_memory_parts(
    meta_key_shapes: dict[str, tuple[int, ...]],
) -> None:
    """Meta's video-memory tensors (all of ``tracker.*`` but the prompt encoder, mask decoder
    and ``no_mem_embed``) become exactly our video-memory tensors."""
    image_parts = ("tracker.sam_prompt_encoder.", "tracker.sam_mask_decoder.", "tracker.no_mem_")
    meta_video = {
        k: s
        for k, s in meta_key_shapes.items()
        if k.startswith("tracker.") and not k.startswith(image_parts)
    }
    assert len(meta_video) == 159
    converted = meta_to_ours(
        {**meta_device_tensors(meta_video), f"{TRUNK}.ln_pre.weight": torch.empty(1)}
    )
    with torch.device("meta"):
        ours = shapes_of(Sam3Model(Sam3Config.sam3()).state_dict())
    expected = {k: s for k, s in ours.items() if is_video_memory_key(k)}
    assert shapes_of(converted) == {**expected, "vision_encoder.backbone.layer_norm.weight": (1,)}


def test_memory_encoder_sequential_indices_land_on_their_layers() -> None:
    """Meta's downsampler Sequential: conv at 3n, LayerNorm at 3n + 1, the 1×1 conv at 12;
    the fuser's layer-scale ``gamma`` is transformers' ``scale``."""
    encoder = "tracker.maskmem_backbone"
    meta = {
        f"{encoder}.mask_downsampler.encoder.{index}.weight": torch.full((1,), float(index))
        for index in (0, 1, 3, 4, 6, 7, 9, 10, 12)
    }
    meta[f"{encoder}.fuser.layers.1.gamma"] = torch.full((1,), -1.0)
    ours = meta_to_ours({**meta, f"{TRUNK}.ln_pre.weight": torch.ones(1)})
    prefix = "tracker_model.memory_encoder"
    downsampler = f"{prefix}.mask_downsampler"
    assert ours[f"{downsampler}.layers.2.conv.weight"].item() == 6
    assert ours[f"{downsampler}.layers.3.layer_norm.weight"].item() == 10
    assert ours[f"{downsampler}.final_conv.weight"].item() == 12
    assert ours[f"{prefix}.memory_fuser.layers.1.scale"].item() == -1
    assert ours_to_meta(ours).keys() == {**meta, f"{TRUNK}.ln_pre.weight": 0}.keys()


def test_full_size_names_and_shapes_round_trip(
    meta_key_shapes: dict[str, tuple[int, ...]],
) -> None:
    kept = {k: s for k, s in meta_key_shapes.items() if not is_ignored(k, META_IGNORED)}
    back = ours_to_meta(meta_to_ours(meta_device_tensors(meta_key_shapes)))
    assert shapes_of(back) == kept


def test_ours_to_meta_and_back_gives_identical_tensors(
    tiny_state_dict_with_tracker: dict[str, Tensor],
) -> None:
    back = meta_to_ours(ours_to_meta(tiny_state_dict_with_tracker))
    assert back.keys() == tiny_state_dict_with_tracker.keys()
    for key, tensor in tiny_state_dict_with_tracker.items():
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


@pytest.mark.parametrize(
    ("neck", "fpn"),
    [
        ("convs", "vision_encoder.neck.fpn_layers"),
        ("sam2_convs", "tracker_neck.fpn_layers"),  # the interactive head's own neck
    ],
)
def test_neck_convolutions_land_at_their_sequential_index(neck: str, fpn: str) -> None:
    neck = f"detector.backbone.vision_backbone.{neck}"
    meta = {
        f"{neck}.0.dconv_2x2_0.weight": torch.randn(8, 4, 2, 2),
        f"{neck}.0.dconv_2x2_1.weight": torch.randn(4, 2, 2, 2),
        f"{neck}.1.dconv_2x2.weight": torch.randn(8, 4, 2, 2),
    }
    ours = meta_to_ours(meta)
    assert ours[f"{fpn}.0.scale_layers.0.weight"] is meta[f"{neck}.0.dconv_2x2_0.weight"]
    assert ours[f"{fpn}.0.scale_layers.2.weight"] is meta[f"{neck}.0.dconv_2x2_1.weight"]
    assert ours[f"{fpn}.1.scale_layers.0.weight"] is meta[f"{neck}.1.dconv_2x2.weight"]
    assert ours_to_meta(ours).keys() == meta.keys()


PROMPT_ENCODER = "tracker.sam_prompt_encoder"
MASK_DECODER = "tracker.sam_mask_decoder"


def test_point_embeddings_stack_in_label_order() -> None:
    tables = {
        f"{PROMPT_ENCODER}.point_embeddings.{n}.weight": torch.full((1, 3), n) for n in range(4)
    }
    shuffled = dict(reversed(tables.items()))
    ours = meta_to_ours({**shuffled, f"{TRUNK}.ln_pre.weight": torch.ones(3)})
    stacked = ours["tracker_model.prompt_encoder.point_embed.weight"]
    assert torch.equal(stacked, torch.arange(4.0).unsqueeze(1).expand(4, 3))
    back = ours_to_meta(ours)
    assert all(torch.equal(back[key], table) for key, table in tables.items())


def test_point_embeddings_with_a_gap_are_rejected() -> None:
    tables = {f"{PROMPT_ENCODER}.point_embeddings.{n}.weight": torch.zeros(1, 3) for n in (0, 2)}
    with pytest.raises(CheckpointKeyError, match=r"numbered 0 to 1; got \[0, 2\]"):
        meta_to_ours({**tables, f"{TRUNK}.ln_pre.weight": torch.ones(3)})


def test_tracker_mlp_layers_become_proj_in_layers_proj_out() -> None:
    meta = {
        f"{MASK_DECODER}.iou_prediction_head.layers.{k}.weight": torch.full((2, 2), k)
        for k in range(3)
    }
    ours = meta_to_ours({**meta, f"{TRUNK}.ln_pre.weight": torch.ones(3)})
    head = "tracker_model.mask_decoder.iou_prediction_head"
    assert ours[f"{head}.proj_in.weight"][0, 0] == 0
    assert ours[f"{head}.layers.0.weight"][0, 0] == 1
    assert ours[f"{head}.proj_out.weight"][0, 0] == 2


def test_allow_listed_keys_are_dropped_and_nothing_else(
    tiny_state_dict_with_tracker: dict[str, Tensor],
) -> None:
    meta = ours_to_meta(tiny_state_dict_with_tracker)
    extras = {
        "tracker.no_mem_pos_enc": torch.zeros(1),
        f"{TRUNK}.blocks.0.attn.freqs_cis": torch.zeros(4, 2, dtype=torch.complex64),
        "detector.geometry_encoder.points_pool_project.bias": torch.zeros(1),
    }
    assert meta_to_ours({**meta, **extras}).keys() == tiny_state_dict_with_tracker.keys()


def test_an_unknown_tracker_key_is_an_error(tiny_state_dict: dict[str, Tensor]) -> None:
    meta = {
        **ours_to_meta(tiny_state_dict),
        "tracker.sam_mask_decoder.new_head.weight": torch.ones(1),
    }
    with pytest.raises(CheckpointKeyError, match=r"tracker\.sam_mask_decoder\.new_head"):
        meta_to_ours(meta)


def test_unknown_keys_are_an_error_that_lists_them(tiny_state_dict: dict[str, Tensor]) -> None:
    meta = ours_to_meta(tiny_state_dict)
    meta["detector.transformer.decoder.new_head.weight"] = torch.zeros(1)
    meta["optimizer.state"] = torch.zeros(1)
    with pytest.raises(CheckpointKeyError) as caught:
        meta_to_ours(meta)
    assert "detector.transformer.decoder.new_head.weight" in str(caught.value)
    assert "optimizer.state" in str(caught.value)


@pytest.mark.parametrize("tracker_key", ["tracker.only.weight", "tracker.no_mem_embed"])
def test_a_dict_without_detector_tensors_is_not_sam3(tracker_key: str) -> None:
    with pytest.raises(NotASam3CheckpointError):
        meta_to_ours({tracker_key: torch.zeros(1, 1, 4), "detector.unrelated": torch.zeros(1)})


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
