"""config.json in transformers' format, written by us and read by us and by transformers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import transformers
from checkpoint_factory import shapes_of

from sam3lib.checkpoint import config_to_transformers_dict, read_transformers_config
from sam3lib.errors import ConfigError
from sam3lib.model import Sam3Config, Sam3Model

PRESETS = {"tiny": Sam3Config.tiny(), "sam3": Sam3Config.sam3()}


@pytest.mark.parametrize("preset", PRESETS)
def test_written_config_reads_back_equal(preset: str) -> None:
    config = PRESETS[preset]
    assert Sam3Config.from_transformers_dict(config_to_transformers_dict(config)) == config


@pytest.mark.parametrize("preset", PRESETS)
def test_transformers_builds_the_same_model_from_the_written_config(preset: str) -> None:
    config = PRESETS[preset]
    written = json.loads(json.dumps(config_to_transformers_dict(config)))  # as from a file
    with torch.device("meta"):
        reference = transformers.Sam3Model(transformers.Sam3Config(**written))
        ours = Sam3Model(config)
    assert shapes_of(reference.state_dict()) == shapes_of(ours.state_dict())


def test_written_config_keeps_metas_vit_layer_norm_eps() -> None:
    written = config_to_transformers_dict(Sam3Config.sam3())
    hf_config = transformers.Sam3Config(**written)
    assert hf_config.vision_config.backbone_config.layer_norm_eps == 1e-5
    assert hf_config.text_config.hidden_act == "gelu"


def test_reads_the_config_transformers_saves(tiny_config_json: Path) -> None:
    assert read_transformers_config(tiny_config_json) == Sam3Config.tiny()


def test_reads_the_hubs_video_config(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(transformers.Sam3VideoConfig().to_json_string())
    assert read_transformers_config(path) == Sam3Config.sam3()


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", '{"model_type": "bert"}'])
def test_a_bad_config_file_is_a_config_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "config.json"
    path.write_text(text)
    with pytest.raises(ConfigError):
        read_transformers_config(path)
