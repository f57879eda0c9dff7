"""The tracker's video-memory parts: built from VideoConfig under transformers' names, with
the full-size shapes of transformers' and Meta's checkpoints; and the config that holds them."""

from __future__ import annotations

import ast
import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from sam3lib.errors import ConfigError
from sam3lib.model import (
    MemoryAttentionConfig,
    MemoryEncoderConfig,
    Sam3Config,
    Sam3Model,
    TrackerConfig,
    VideoConfig,
)
from sam3lib.model.video_memory import VIDEO_MEMORY_PARTS, is_video_memory_key, video_memory_parts

TRACKER_PREFIXES = ("tracker_model.", "tracker_neck.")
# transformers' tracker keys that are not ours: no path uses the first, the second is a copy
# of the prompt encoder's position matrix.
NOT_OURS = {
    "tracker_model.no_memory_positional_encoding",
    "tracker_model.shared_image_embedding.positional_embedding",
}


def _tsv(path: Path) -> dict[str, tuple[int, ...]]:
    rows = (line.split("\t") for line in path.read_text().splitlines())
    return {key: tuple(ast.literal_eval(shape)) for key, shape in rows}


def _tracker_shapes(config: Sam3Config) -> dict[str, tuple[int, ...]]:
    with torch.device("meta"):
        model = Sam3Model(config)
    return {
        key: tuple(tensor.shape)
        for key, tensor in model.state_dict().items()
        if key.startswith(TRACKER_PREFIXES)
    }


def test_full_size_tracker_has_every_transformers_tracker_key_and_shape(
    shared_reference: Path,
) -> None:
    """``Sam3Model(Sam3Config.sam3())`` against transformers' full-size ``Sam3VideoModel``."""
    theirs = _tsv(shared_reference / "keys_hf_sam3_tracker.tsv")
    expected = {key: shape for key, shape in theirs.items() if key not in NOT_OURS}
    assert _tracker_shapes(Sam3Config.sam3()) == expected
    assert len(expected) == 327


def test_video_memory_is_159_tensors_under_the_eight_part_names() -> None:
    video = {k for k in _tracker_shapes(Sam3Config.sam3()) if is_video_memory_key(k)}
    assert len(video) == 159
    assert {k.split(".")[1] for k in video} == set(VIDEO_MEMORY_PARTS)


def test_parts_are_named_as_the_loader_expects() -> None:
    assert tuple(video_memory_parts(VideoConfig(), tracker_width=256)) == VIDEO_MEMORY_PARTS


def test_without_video_config_the_tracker_has_no_video_memory() -> None:
    shapes = _tracker_shapes(replace(Sam3Config.tiny(), video=None))
    assert shapes and not any(is_video_memory_key(k) for k in shapes)


def test_without_tracker_there_is_no_video_memory() -> None:
    assert replace(Sam3Config.sam3(), tracker=None).video is None


def test_tiny_video_memory_is_as_wide_as_the_tiny_tracker() -> None:
    config = Sam3Config.tiny()
    assert config.tracker is not None and config.video is not None
    assert config.video.hidden_size == config.tracker.hidden_size == 32
    assert config.video.memory_channels == 64  # transformers hard-codes its k/v width


def test_pointer_parts_take_the_tracker_width_as_in_transformers() -> None:
    """A tracker of another width than the memory builds (as transformers' does), the pointer
    tensors at the tracker's width; only running it could fail."""
    config = replace(Sam3Config.tiny(), tracker=TrackerConfig())
    shapes = _tracker_shapes(config)
    assert shapes["tracker_model.no_object_pointer"] == (1, 256)
    assert shapes["tracker_model.memory_attention.layer_norm.weight"] == (32,)


@pytest.mark.parametrize(
    ("encoder", "attention", "message"),
    [
        (MemoryEncoderConfig(hidden_size=128), MemoryAttentionConfig(), "must agree"),
        (MemoryEncoderConfig(memory_channels=32), MemoryAttentionConfig(), "channels"),
    ],
)
def test_encoder_and_attention_must_fit_together(
    encoder: MemoryEncoderConfig, attention: MemoryAttentionConfig, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        VideoConfig(memory_encoder=encoder, memory_attention=attention)


@pytest.mark.parametrize("preset", ["tiny", "sam3"])
def test_config_dictionary_round_trips_through_json(preset: str) -> None:
    config = getattr(Sam3Config, preset)()
    again = Sam3Config.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config
    assert isinstance(again.video, VideoConfig)
    assert isinstance(again.video.memory_encoder.downsampler_channels, tuple)


def test_a_dictionary_written_before_the_video_section_reads_without_it() -> None:
    written = Sam3Config.tiny().to_dict()
    del written["video"]
    assert Sam3Config.from_dict(written) == replace(Sam3Config.tiny(), video=None)
