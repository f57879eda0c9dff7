"""Layout detection, and the hub's video checkpoint converted to our layout."""

from __future__ import annotations

import pytest
import torch
import transformers
from checkpoint_factory import hf_video_state_dict, meta_checkpoint, shapes_of
from torch import Tensor

from sam3lib.checkpoint import Layout, detect_layout, to_our_layout
from sam3lib.checkpoint._keys import is_ignored
from sam3lib.checkpoint.layouts import HF_VIDEO_IGNORED
from sam3lib.errors import CheckpointKeyError


@pytest.fixture(scope="module")
def video_key_shapes() -> dict[str, tuple[int, ...]]:
    """transformers' full-size Sam3VideoModel, the class of the hub's facebook/sam3 file."""
    with torch.device("meta"):
        model = transformers.Sam3VideoModel(transformers.Sam3VideoConfig())
    return shapes_of(model.state_dict())


def test_hub_video_checkpoint_maps_onto_the_transformers_key_list(
    video_key_shapes: dict[str, tuple[int, ...]], hf_key_shapes: dict[str, tuple[int, ...]]
) -> None:
    video = {k: torch.empty(s, device="meta") for k, s in video_key_shapes.items()}
    assert detect_layout(video) is Layout.HF_VIDEO
    assert shapes_of(to_our_layout(video)) == hf_key_shapes


def test_hub_video_checkpoint_drops_exactly_the_tracker(
    video_key_shapes: dict[str, tuple[int, ...]],
) -> None:
    dropped = {k for k in video_key_shapes if is_ignored(k, HF_VIDEO_IGNORED)}
    detector = {k for k in video_key_shapes if k.startswith("detector_model.")}
    assert dropped | detector == video_key_shapes.keys()
    assert all(k.startswith(("tracker_model.", "tracker_neck.")) for k in dropped)
    assert all(any(entry.matches(k) for k in dropped) for entry in HF_VIDEO_IGNORED)


def test_unknown_key_in_a_video_checkpoint_is_an_error(tiny_state_dict: dict[str, Tensor]) -> None:
    video = hf_video_state_dict(tiny_state_dict)
    video["memory_bank.slots"] = torch.zeros(1)
    with pytest.raises(CheckpointKeyError, match=r"memory_bank\.slots"):
        to_our_layout(video)


def test_video_layout_converts_to_the_same_tensors(tiny_state_dict: dict[str, Tensor]) -> None:
    converted = to_our_layout(hf_video_state_dict(tiny_state_dict))
    assert converted.keys() == tiny_state_dict.keys()
    assert all(converted[k] is tensor for k, tensor in tiny_state_dict.items())


def test_our_layout_passes_through_untouched(tiny_state_dict: dict[str, Tensor]) -> None:
    assert detect_layout(tiny_state_dict) is Layout.OURS
    converted = to_our_layout(tiny_state_dict)
    assert all(converted[k] is tensor for k, tensor in tiny_state_dict.items())


def test_meta_layout_is_recognised_by_its_detector_prefix(
    tiny_state_dict: dict[str, Tensor],
) -> None:
    meta = meta_checkpoint(tiny_state_dict)["model"]
    assert detect_layout(meta) is Layout.META
    assert to_our_layout(meta).keys() == tiny_state_dict.keys()
