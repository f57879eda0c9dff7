"""config.json in transformers' format, written by us and read by us and by transformers."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import transformers
from checkpoint_factory import TINY_DETECTOR_CONFIG, shapes_of, tiny_transformers_video_config

from sam3lib.checkpoint import config_to_transformers_dict, read_transformers_config
from sam3lib.checkpoint._keys import is_ignored
from sam3lib.checkpoint.layouts import HF_SHARED_IMAGE_PE, HF_VIDEO_IGNORED
from sam3lib.errors import ConfigError
from sam3lib.model import Sam3Config, Sam3Model, TrackerConfig, VideoConfig

PRESETS = {
    "tiny": Sam3Config.tiny(),
    "sam3": Sam3Config.sam3(),
    "tiny_detector": TINY_DETECTOR_CONFIG,
    "sam3_detector": replace(Sam3Config.sam3(), tracker=None),
}


@pytest.mark.parametrize("preset", ["tiny", "sam3"])
def test_written_config_reads_back_equal(preset: str) -> None:
    config = PRESETS[preset]
    assert Sam3Config.from_transformers_dict(config_to_transformers_dict(config)) == config


@pytest.mark.parametrize("preset", ["tiny_detector", "sam3_detector"])
def test_written_detector_config_reads_back_with_the_default_tracker(preset: str) -> None:
    """transformers' ``sam3`` config has no tracker section; the loader drops the default
    tracker and video memory again when the weights have none."""
    config = PRESETS[preset]
    read = Sam3Config.from_transformers_dict(config_to_transformers_dict(config))
    assert read == replace(config, tracker=TrackerConfig(), video=VideoConfig())


def test_a_tracker_without_video_memory_reads_back_with_the_default_one() -> None:
    """No video fields are written for it; transformers' defaults (= Meta's) are read, and the
    loader drops them for weights without video memory."""
    config = replace(Sam3Config.sam3(), video=None)
    written = config_to_transformers_dict(config)
    assert "num_maskmem" not in written["tracker_config"]
    assert Sam3Config.from_transformers_dict(written) == Sam3Config.sam3()


def test_video_fields_are_written_under_transformers_names() -> None:
    tracker = config_to_transformers_dict(Sam3Config.tiny())["tracker_config"]
    hf = transformers.Sam3TrackerVideoConfig(**tracker)
    assert (hf.memory_attention_hidden_size, hf.memory_attention_num_layers) == (32, 1)
    assert (hf.memory_encoder_hidden_size, hf.memory_encoder_output_channels) == (32, 64)
    assert (hf.mask_downsampler_total_stride, hf.memory_fuser_intermediate_dim) == (4, 64)
    assert (hf.num_maskmem, hf.max_object_pointers_in_encoder) == (7, 16)


def test_video_fields_are_read_from_the_tracker_section() -> None:
    written = config_to_transformers_dict(Sam3Config.sam3())
    written["tracker_config"].update(
        num_maskmem=5,
        max_object_pointers_in_encoder=8,
        memory_attention_num_layers=2,
        memory_fuser_intermediate_dim=512,
        mask_downsampler_total_stride=8,
        sigmoid_scale_for_mem_enc=10.0,
    )
    video = Sam3Config.from_transformers_dict(written).video
    assert video is not None
    assert (video.num_memories, video.max_object_pointers) == (5, 8)
    assert video.memory_attention.num_layers == 2
    encoder = video.memory_encoder
    assert (encoder.fuser_mlp_ratio, encoder.downsampler_channels) == (2, (4, 16, 64))
    assert encoder.mask_scale == 10.0


@pytest.mark.parametrize(
    "change",
    [
        {"memory_fuser_embed_dim": 128},
        {"mask_downsampler_stride": 4},
        {"mask_downsampler_total_stride": 12},
        {"memory_attention_hidden_size": 128},
    ],
)
def test_video_fields_we_cannot_build_are_a_config_error(change: dict[str, int]) -> None:
    written = config_to_transformers_dict(Sam3Config.sam3())
    written["tracker_config"].update(change)
    with pytest.raises(ConfigError):
        Sam3Config.from_transformers_dict(written)


def test_a_mask_downsampler_transformers_cannot_describe_is_not_written() -> None:
    video = VideoConfig(
        memory_encoder=replace(VideoConfig().memory_encoder, downsampler_channels=(8, 16))
    )
    with pytest.raises(ConfigError, match="multiplies them by 4"):
        config_to_transformers_dict(replace(Sam3Config.sam3(), video=video))


def test_written_model_type_says_whether_the_tracker_is_there() -> None:
    assert config_to_transformers_dict(Sam3Config.tiny())["model_type"] == "sam3_video"
    assert config_to_transformers_dict(TINY_DETECTOR_CONFIG)["model_type"] == "sam3"


@pytest.mark.parametrize("preset", ["tiny_detector", "sam3_detector"])
def test_transformers_builds_the_same_detector_from_the_written_config(preset: str) -> None:
    config = PRESETS[preset]
    written = json.loads(json.dumps(config_to_transformers_dict(config)))  # as from a file
    with torch.device("meta"):
        reference = transformers.Sam3Model(transformers.Sam3Config(**written))
        ours = Sam3Model(config)
    assert shapes_of(reference.state_dict()) == shapes_of(ours.state_dict())


@pytest.mark.parametrize("preset", ["tiny", "sam3"])
def test_transformers_builds_the_same_video_model_from_the_written_config(preset: str) -> None:
    """Its detector is ours under ``detector_model.``; its tracker is ours, video memory
    included, plus exactly the unused ``no_memory_positional_encoding`` and the second copy
    of the position matrix."""
    config = PRESETS[preset]
    written = json.loads(json.dumps(config_to_transformers_dict(config)))
    with torch.device("meta"):
        reference = shapes_of(
            transformers.Sam3VideoModel(transformers.Sam3VideoConfig(**written)).state_dict()
        )
        ours = shapes_of(Sam3Model(config).state_dict())
    tracker = {k: s for k, s in ours.items() if k.startswith(("tracker_model.", "tracker_neck."))}
    detector = {f"detector_model.{k}": s for k, s in ours.items() if k not in tracker}
    assert {k: reference[k] for k in detector} == detector
    assert {k: reference.get(k) for k in tracker} == tracker
    extra = reference.keys() - detector.keys() - tracker.keys()
    assert {k for k in extra if not is_ignored(k, HF_VIDEO_IGNORED)} == {HF_SHARED_IMAGE_PE}
    assert len(extra) == 2


def test_written_config_keeps_metas_vit_layer_norm_eps() -> None:
    written = config_to_transformers_dict(Sam3Config.sam3())
    hf_config = transformers.Sam3VideoConfig(**written)
    detector = hf_config.detector_config
    assert detector.vision_config.backbone_config.layer_norm_eps == 1e-5
    assert hf_config.tracker_config.vision_config.backbone_config.layer_norm_eps == 1e-5
    assert detector.text_config.hidden_act == "gelu"


def test_reads_the_config_transformers_saves(tiny_config_json: Path) -> None:
    """A detector-only ``sam3`` config says nothing of the tracker: the default one, which the
    loader drops when the weights have none."""
    expected = replace(Sam3Config.tiny(), tracker=TrackerConfig(), video=VideoConfig())
    assert read_transformers_config(tiny_config_json) == expected


def test_reads_transformers_owntiny_transformers_video_config(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(tiny_transformers_video_config().to_json_string())
    assert read_transformers_config(path) == Sam3Config.tiny()


def test_reads_the_hubs_video_config(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(transformers.Sam3VideoConfig().to_json_string())
    assert read_transformers_config(path) == Sam3Config.sam3()


def test_tracker_fields_are_read_from_the_tracker_section(tmp_path: Path) -> None:
    changed = tiny_transformers_video_config(
        mask_decoder_config={"dynamic_multimask_stability_thresh": 0.9, "iou_head_depth": 4},
        prompt_encoder_config={"layer_norm_eps": 1e-5, "mask_input_channels": 8},
    )
    path = tmp_path / "config.json"
    path.write_text(changed.to_json_string())
    tracker = read_transformers_config(path).tracker
    assert tracker is not None
    assert (tracker.stability_threshold, tracker.iou_head_depth) == (0.9, 4)
    assert (tracker.layer_norm_eps, tracker.mask_input_channels) == (1e-5, 8)


def test_tracker_widths_that_disagree_are_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(
        tiny_transformers_video_config(prompt_encoder_config={"hidden_size": 64}).to_json_string()
    )
    with pytest.raises(ConfigError, match="tracker widths must agree"):
        read_transformers_config(path)


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '{"model_type": "bert"}'])
def test_a_bad_config_file_is_a_config_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "config.json"
    path.write_text(text)
    with pytest.raises(ConfigError):
        read_transformers_config(path)
