"""Tiny checkpoint files in every layout we read, built from a state dict in our layout."""

from __future__ import annotations

import ast
import shutil
from collections.abc import Mapping
from pathlib import Path

import safetensors.torch
import torch
from torch import Tensor

from sam3lib.checkpoint import ours_to_meta

FAKE_COMMIT = "0123456789abcdef0123456789abcdef01234567"


def read_tsv(path: Path) -> dict[str, tuple[int, ...]]:
    """``key<TAB>(d0, d1, ...)`` lines -> {key: shape}."""
    shapes = {}
    for line in path.read_text().splitlines():
        key, shape = line.split("\t")
        shapes[key] = tuple(ast.literal_eval(shape))
    return shapes


def meta_device_tensors(shapes: Mapping[str, tuple[int, ...]]) -> dict[str, Tensor]:
    """Storage-less tensors with these shapes: full-size key checks cost no memory."""
    return {key: torch.empty(shape, device="meta") for key, shape in shapes.items()}


def shapes_of(state_dict: Mapping[str, Tensor]) -> dict[str, tuple[int, ...]]:
    return {key: tuple(tensor.shape) for key, tensor in state_dict.items()}


def meta_ignored_extras() -> dict[str, Tensor]:
    """One tensor of each kind Meta's sam3.pt holds that the image model does not load."""
    return {
        "tracker.maskmem_tpos_enc": torch.randn(7, 1, 1, 8),
        "detector.backbone.vision_backbone.trunk.blocks.0.attn.freqs_cis": torch.randn(
            36, 8, dtype=torch.complex64
        ),
        "detector.geometry_encoder.points_direct_project.weight": torch.randn(32, 2),
        "detector.backbone.vision_backbone.sam2_convs.2.conv_1x1.weight": torch.randn(32, 32, 1, 1),
    }


def meta_checkpoint(state_dict: Mapping[str, Tensor]) -> dict[str, dict[str, Tensor]]:
    """What Meta's sam3.pt holds: ``{"model": detector + tracker tensors}``."""
    return {"model": {**ours_to_meta(state_dict), **meta_ignored_extras()}}


def hf_video_state_dict(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """The hub's facebook/sam3 layout: our keys under ``detector_model.``, plus the tracker."""
    return {
        **{f"detector_model.{key}": tensor for key, tensor in state_dict.items()},
        "tracker_model.memory_encoder.projection.weight": torch.randn(8, 8),
        "tracker_neck.fpn_layers.0.proj1.weight": torch.randn(8, 8, 1, 1),
    }


def save_safetensors(path: Path, state_dict: Mapping[str, Tensor]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    safetensors.torch.save_file({k: v.contiguous() for k, v in state_dict.items()}, path)
    return path


def save_pt(path: Path, obj: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(obj, path)
    return path


def truncate(path: Path, keep_fraction: float = 0.5) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep_fraction)])
    return path


def populate_hub_cache(cache_dir: Path, repo_id: str, files: Mapping[str, Path]) -> Path:
    """Lay files out as huggingface_hub's cache does after a download of ``main``."""
    repo = cache_dir / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(FAKE_COMMIT)
    snapshot = repo / "snapshots" / FAKE_COMMIT
    snapshot.mkdir(parents=True)
    for name, source in files.items():
        shutil.copyfile(source, snapshot / name)
    return snapshot
