"""The measuring parts: GEMM probe, random weights, checkpoint directory, fresh-process run."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch

from sam3lib import Segmenter
from sam3lib.bench.isolated import measure_in_subprocess, synthetic_image
from sam3lib.bench.roofline import gemm_gflops
from sam3lib.bench.weights import random_state_dict, write_checkpoint
from sam3lib.model import Sam3Config, Sam3Model, TrackerConfig


def test_gemm_probe_reports_a_positive_rate() -> None:
    assert gemm_gflops(torch.float32, "cpu", size=128, tries=2) > 0


def test_random_weights_fit_the_model_strictly_and_depend_on_the_seed() -> None:
    config = Sam3Config.tiny()
    state = random_state_dict(config, seed=1)
    Sam3Model(config).load_state_dict(state, strict=True)
    again, other = random_state_dict(config, seed=1), random_state_dict(config, seed=2)
    key = "vision_encoder.backbone.layers.0.mlp.fc1.weight"
    assert torch.equal(state[key], again[key]) and not torch.equal(state[key], other[key])
    assert torch.equal(state["vision_encoder.backbone.layer_norm.weight"], torch.ones(32))


def test_random_weights_of_the_interactive_head_follow_their_init_rules() -> None:
    # The tiny detector with the full-width head: its real init at a fraction of the cost.
    state = random_state_dict(replace(Sam3Config.tiny(), tracker=TrackerConfig()), seed=1)
    head = "tracker_model.prompt_encoder"
    gaussian = state[f"{head}.shared_embedding.positional_embedding"]  # Meta's N(0, 1) matrix
    assert gaussian.shape == (2, 128) and 0.8 < gaussian.std() < 1.2
    assert torch.equal(state[f"{head}.mask_embed.layer_norm1.weight"], torch.ones(4))
    assert torch.equal(state["tracker_neck.fpn_layers.2.proj2.bias"], torch.zeros(256))
    assert state["tracker_model.no_memory_embedding"].std() < 0.05


def test_checkpoint_directory_loads_and_segments(tmp_path: Path) -> None:
    config = Sam3Config.tiny()
    directory = write_checkpoint(config, random_state_dict(config), tmp_path)
    segmenter = Segmenter.from_pretrained(directory)
    result = segmenter.segment(synthetic_image(40, 60), "red car", threshold=0.0, top_k=2)
    assert result.masks.shape == (2, 40, 60)
    assert Sam3Model.from_pretrained(directory).has_interactive_head


def test_fresh_process_reports_load_time_and_peak_memory(tmp_path: Path) -> None:
    config = Sam3Config.tiny()
    directory = write_checkpoint(config, random_state_dict(config), tmp_path)
    measured = measure_in_subprocess(
        "sam3lib",
        directory,
        backend="eager",
        precision="fp32",
        device="cpu",
        image_hw=(40, 60),
        prompt="red car",
        threshold=0.0,
    )
    assert 0 < measured["load_s"] <= measured["first_result_s"]
    assert measured["import_s"] > 0 and measured["peak_rss_bytes"] > 2**20
