"""Converting Meta's sam3.pt to a model.safetensors + config.json directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import safetensors
import torch
import transformers
from checkpoint_factory import (
    PROMPT_ENCODER_PE,
    SHARED_IMAGE_PE,
    TINY_DETECTOR_CONFIG,
    hub_layout,
    meta_checkpoint,
    save_pt,
)
from torch import Tensor

from sam3lib.bench.weights import random_state_dict
from sam3lib.checkpoint import convert, convert_meta_checkpoint, load_sam3_model
from sam3lib.checkpoint.convert import write_transformers_checkpoint
from sam3lib.cli import main as sam3lib_main
from sam3lib.errors import CheckpointKeyError
from sam3lib.model import Sam3Config
from sam3lib.model.video_memory import is_video_memory_key


@pytest.fixture
def meta_pt(tmp_path: Path, tiny_state_dict_with_tracker: dict[str, Tensor]) -> Path:
    """Meta's sam3.pt of the tiny model, both heads."""
    return save_pt(tmp_path / "sam3.pt", meta_checkpoint(tiny_state_dict_with_tracker))


def test_converted_directory_loads_with_identical_weights(
    meta_pt: Path, tmp_path: Path, tiny_state_dict_with_tracker: dict[str, Tensor]
) -> None:
    out = convert_meta_checkpoint(meta_pt, tmp_path / "out", config=Sam3Config.tiny())
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "model.safetensors"]
    with safetensors.safe_open(out / "model.safetensors", "pt") as file:
        # the hub's layout: detector_model.*, tracker_model.* (video memory included),
        # tracker_neck.*; not the unused no_memory_positional_encoding
        assert set(file.keys()) == hub_layout(tiny_state_dict_with_tracker).keys()
    assert json.loads((out / "config.json").read_text())["model_type"] == "sam3_video"

    model, resolved = load_sam3_model(out)
    assert resolved.config_path == out / "config.json"
    assert model.config == Sam3Config.tiny()
    loaded = model.state_dict()
    assert loaded.keys() == tiny_state_dict_with_tracker.keys()
    assert all(torch.equal(loaded[k], v) for k, v in tiny_state_dict_with_tracker.items())
    assert sum(is_video_memory_key(k) for k in loaded) == 64  # the tiny video memory


def test_written_random_checkpoint_reads_back_its_video_memory(tmp_path: Path) -> None:
    state = random_state_dict(Sam3Config.tiny(), seed=7)
    out = write_transformers_checkpoint(Sam3Config.tiny(), state, tmp_path / "out")
    with safetensors.safe_open(out / "model.safetensors", "pt") as file:
        written = set(file.keys())
    video_memory = {k: v for k, v in state.items() if is_video_memory_key(k)}
    assert video_memory.keys() <= written
    model, _ = load_sam3_model(out)
    assert model.config == Sam3Config.tiny()
    loaded = model.state_dict()
    for key, tensor in video_memory.items():
        assert torch.equal(loaded[key], tensor), key


def test_transformers_loads_the_converted_directory(
    meta_pt: Path, tmp_path: Path, tiny_state_dict_with_tracker: dict[str, Tensor]
) -> None:
    """Its detector model, and its video model (whose tracker is ours, video memory included,
    plus the unused ``no_memory_positional_encoding``, which transformers initialises)."""
    out = convert_meta_checkpoint(meta_pt, tmp_path / "out", config=Sam3Config.tiny())
    expected = tiny_state_dict_with_tracker
    detector = transformers.Sam3Model.from_pretrained(out).state_dict()
    assert detector.keys() == {k for k in expected if not k.startswith("tracker")}
    assert all(torch.equal(tensor, expected[k]) for k, tensor in detector.items())

    video = transformers.Sam3VideoModel.from_pretrained(out).state_dict()
    for key, tensor in expected.items():
        name = key if key.startswith("tracker") else f"detector_model.{key}"
        assert torch.equal(video[name], tensor), key
    assert torch.equal(video[SHARED_IMAGE_PE], expected[PROMPT_ENCODER_PE])


def test_a_detector_only_checkpoint_converts_to_transformers_detector_layout(
    tmp_path: Path, tiny_state_dict: dict[str, Tensor]
) -> None:
    meta_pt = save_pt(tmp_path / "sam3.pt", meta_checkpoint(tiny_state_dict))
    out = convert_meta_checkpoint(meta_pt, tmp_path / "out", config=Sam3Config.tiny())
    with safetensors.safe_open(out / "model.safetensors", "pt") as file:
        assert set(file.keys()) == tiny_state_dict.keys()  # Sam3Model's: our keys, no prefix
    assert json.loads((out / "config.json").read_text())["model_type"] == "sam3"
    model, _ = load_sam3_model(out)
    assert model.config == TINY_DETECTOR_CONFIG


def test_weights_that_do_not_fit_the_config_write_nothing(meta_pt: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(CheckpointKeyError):
        convert_meta_checkpoint(meta_pt, out)  # the full-size preset
    assert not out.exists()


def test_cli_passes_its_paths_and_reports_success(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: list[tuple[Path, Path]] = []

    def fake_convert(checkpoint: Path, out_dir: Path) -> Path:
        calls.append((checkpoint, out_dir))
        return out_dir

    monkeypatch.setattr(convert, "convert_meta_checkpoint", fake_convert)
    assert sam3lib_main(["convert", "in/sam3.pt", str(tmp_path / "out")]) == 0
    assert calls == [(Path("in/sam3.pt"), tmp_path / "out")]
    assert "model.safetensors" in capsys.readouterr().out


def test_cli_reports_errors_on_stderr_with_status_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert sam3lib_main(["convert", str(tmp_path / "absent.pt"), str(tmp_path / "out")]) == 1
    assert "absent.pt does not exist" in capsys.readouterr().err
