"""Layout detection, and the hub's video checkpoint converted to our layout and back."""

from __future__ import annotations

import re

import pytest
import torch
from checkpoint_factory import (
    PROMPT_ENCODER_PE,
    SHARED_IMAGE_PE,
    hf_video_state_dict,
    hub_layout,
    meta_checkpoint,
    meta_device_tensors,
    shapes_of,
)
from torch import Tensor

from sam3lib.checkpoint import Layout, detect_layout, to_our_layout
from sam3lib.checkpoint._keys import is_ignored
from sam3lib.checkpoint.layouts import HF_VIDEO_IGNORED, to_hf_video_layout
from sam3lib.errors import CheckpointKeyError
from sam3lib.model import Sam3Config, Sam3Model

# transformers' names of the video tracker's memory.
VIDEO_MEMORY = re.compile(
    r"tracker_model\.(memory_attention\.|memory_encoder\.|mask_downsample\.|object_pointer_proj\."
    r"|temporal_positional_encoding_projection_layer\.|memory_temporal_positional_encoding$"
    r"|no_memory_positional_encoding$|no_object_pointer$|occlusion_spatial_embedding_parameter$)"
)


@pytest.fixture(scope="module")
def hub_key_shapes(
    hf_key_shapes: dict[str, tuple[int, ...]], hf_tracker_key_shapes: dict[str, tuple[int, ...]]
) -> dict[str, tuple[int, ...]]:
    """The hub's full-size facebook/sam3 file: transformers' Sam3VideoModel state dict."""
    return {
        **{f"detector_model.{key}": shape for key, shape in hf_key_shapes.items()},
        **hf_tracker_key_shapes,
    }


def test_hub_video_checkpoint_maps_onto_our_full_size_model(
    hub_key_shapes: dict[str, tuple[int, ...]],
) -> None:
    video = meta_device_tensors(hub_key_shapes)
    assert detect_layout(video) is Layout.HF_VIDEO
    converted = shapes_of(to_our_layout(video))
    with torch.device("meta"):
        expected = shapes_of(Sam3Model(Sam3Config.sam3()).state_dict())
    assert sorted(expected.keys() - converted.keys()) == []  # missing
    assert sorted(converted.keys() - expected.keys()) == []  # unexpected
    assert converted == expected


def test_hub_video_checkpoint_drops_only_the_unused_no_memory_encoding(
    hub_key_shapes: dict[str, tuple[int, ...]],
) -> None:
    dropped = {k for k in hub_key_shapes if is_ignored(k, HF_VIDEO_IGNORED)}
    assert dropped == {"tracker_model.no_memory_positional_encoding"}
    video_memory = {k for k in hub_key_shapes if VIDEO_MEMORY.match(k)} - dropped
    assert len(video_memory) == 159
    converted = to_our_layout(meta_device_tensors(hub_key_shapes))
    assert video_memory <= converted.keys()
    tracker = {k for k in hub_key_shapes if k.startswith(("tracker_model.", "tracker_neck."))}
    # 327 tensors of the interactive head and its video memory; transformers' second position
    # matrix is merged into the prompt encoder's.
    assert len(tracker - dropped) == 328 and SHARED_IMAGE_PE in tracker
    assert len([k for k in converted if k.startswith(("tracker_model.", "tracker_neck."))]) == 327


def test_unknown_key_in_a_video_checkpoint_is_an_error(tiny_state_dict: dict[str, Tensor]) -> None:
    video = hf_video_state_dict(tiny_state_dict)
    video["memory_bank.slots"] = torch.zeros(1)
    with pytest.raises(CheckpointKeyError, match=r"memory_bank\.slots"):
        to_our_layout(video)


def test_video_layout_converts_to_the_same_tensors(
    tiny_state_dict_with_tracker: dict[str, Tensor],
) -> None:
    converted = to_our_layout(hf_video_state_dict(tiny_state_dict_with_tracker))
    assert converted.keys() == tiny_state_dict_with_tracker.keys()
    assert all(converted[k] is tensor for k, tensor in tiny_state_dict_with_tracker.items())


def test_transformers_doubled_tracker_prefix_is_read(
    tiny_state_dict_with_tracker: dict[str, Tensor],
) -> None:
    """transformers 5's ``Sam3VideoModel.save_pretrained`` writes the tracker under
    ``tracker_model.tracker_model.`` (and reads that back)."""
    doubled = {
        re.sub(r"^tracker_model\.", "tracker_model.tracker_model.", key): tensor
        for key, tensor in hf_video_state_dict(tiny_state_dict_with_tracker).items()
    }
    assert any(k.startswith("tracker_model.tracker_model.") for k in doubled)
    assert to_our_layout(doubled).keys() == tiny_state_dict_with_tracker.keys()


def test_differing_copies_of_the_position_matrix_are_an_error(
    tiny_state_dict_with_tracker: dict[str, Tensor],
) -> None:
    video = hf_video_state_dict(tiny_state_dict_with_tracker)
    video[SHARED_IMAGE_PE] = video[SHARED_IMAGE_PE] + 1e-3
    with pytest.raises(CheckpointKeyError, match=r"shared_image_embedding.* differ"):
        to_our_layout(video)


def test_the_image_grids_position_matrix_alone_serves_the_prompt_encoder(
    tiny_state_dict_with_tracker: dict[str, Tensor],
) -> None:
    video = hf_video_state_dict(tiny_state_dict_with_tracker)
    only_copy = video.pop(PROMPT_ENCODER_PE)
    converted = to_our_layout(video)
    assert converted.keys() == tiny_state_dict_with_tracker.keys()
    assert torch.equal(converted[PROMPT_ENCODER_PE], only_copy)


def test_our_hub_writer_matches_the_hub_layout(
    tiny_state_dict_with_tracker: dict[str, Tensor],
) -> None:
    written = to_hf_video_layout(tiny_state_dict_with_tracker)
    expected = hub_layout(tiny_state_dict_with_tracker)
    assert written.keys() == expected.keys()
    assert all(torch.equal(written[k], tensor) for k, tensor in expected.items())
    # a copy, so that safetensors (which refuses shared memory) can write both
    assert written[SHARED_IMAGE_PE].data_ptr() != written[PROMPT_ENCODER_PE].data_ptr()


def test_our_layout_passes_through_untouched(tiny_state_dict: dict[str, Tensor]) -> None:
    assert detect_layout(tiny_state_dict) is Layout.OURS
    converted = to_our_layout(tiny_state_dict)
    assert all(converted[k] is tensor for k, tensor in tiny_state_dict.items())


def test_meta_layout_is_recognised_by_its_detector_prefix(
    tiny_state_dict_with_tracker: dict[str, Tensor],
) -> None:
    meta = meta_checkpoint(tiny_state_dict_with_tracker)["model"]
    assert detect_layout(meta) is Layout.META
    assert to_our_layout(meta).keys() == tiny_state_dict_with_tracker.keys()
