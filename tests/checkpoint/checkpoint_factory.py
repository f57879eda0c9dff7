"""Tiny checkpoint files in every layout we read, built from a state dict in our layout.

The hub layout is written here by hand, independently of ``sam3lib.checkpoint``, so that a
mistake in the library's own writer cannot hide in its tests; Meta's layout goes through the
library's ``ours_to_meta`` (checked against Meta's full-size key list separately).
"""

from __future__ import annotations

import ast
import json
import shutil
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import safetensors.torch
import torch
from torch import Tensor

from helpers.transformers_reference import tiny_transformers_config
from sam3lib.checkpoint import config_to_transformers_dict, ours_to_meta
from sam3lib.model import Sam3Config, Sam3Model

FAKE_COMMIT = "0123456789abcdef0123456789abcdef01234567"

TINY_DETECTOR_CONFIG = replace(Sam3Config.tiny(), tracker=None)
TRACKER_PREFIXES = ("tracker_model.", "tracker_neck.")
PROMPT_ENCODER_PE = "tracker_model.prompt_encoder.shared_embedding.positional_embedding"
SHARED_IMAGE_PE = "tracker_model.shared_image_embedding.positional_embedding"


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


def random_tracker_tensors(config: Sam3Config, seed: int = 0) -> dict[str, Tensor]:
    """The interactive head's tensors of ``Sam3Model(config)``, our names, distinct N(0, 1)."""
    with torch.device("meta"):
        shapes = shapes_of(Sam3Model(config).state_dict())
    generator = torch.Generator().manual_seed(seed)
    return {
        key: torch.randn(shape, generator=generator)
        for key, shape in shapes.items()
        if key.startswith(TRACKER_PREFIXES)
    }


def meta_ignored_extras() -> dict[str, Tensor]:
    """One tensor of each kind Meta's sam3.pt holds that the model does not load."""
    return {
        "tracker.no_mem_pos_enc": torch.randn(1, 1, 32),
        "detector.backbone.vision_backbone.trunk.blocks.0.attn.freqs_cis": torch.randn(
            36, 8, dtype=torch.complex64
        ),
        "detector.geometry_encoder.points_direct_project.weight": torch.randn(32, 2),
    }


def meta_checkpoint(state_dict: Mapping[str, Tensor]) -> dict[str, dict[str, Tensor]]:
    """What Meta's sam3.pt holds: ``{"model": detector + tracker tensors}``."""
    return {"model": {**ours_to_meta(state_dict), **meta_ignored_extras()}}


def unused_hub_extras() -> dict[str, Tensor]:
    """The hub file's one tracker tensor that no path uses, which the model does not load."""
    return {"tracker_model.no_memory_positional_encoding": torch.randn(1, 1, 32)}


def hub_layout(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """Our layout as the hub's ``Sam3VideoModel`` file has it: detector under
    ``detector_model.``, the tracker as it is, and transformers' second copy of the prompt
    encoder's position matrix (``shared_image_embedding``) when there is a tracker."""
    tensors = {
        (key if key.startswith(TRACKER_PREFIXES) else f"detector_model.{key}"): tensor
        for key, tensor in state_dict.items()
    }
    if PROMPT_ENCODER_PE in state_dict:
        tensors[SHARED_IMAGE_PE] = state_dict[PROMPT_ENCODER_PE].clone()
    return tensors


def hf_video_state_dict(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """The hub's facebook/sam3 file: :func:`hub_layout` plus its unused tracker tensor."""
    return {**hub_layout(state_dict), **unused_hub_extras()}


def write_hub_checkpoint(
    directory: Path,
    state_dict: Mapping[str, Tensor],
    config: Sam3Config | None = None,
    *,
    unused_extras: bool = True,
) -> Path:
    """A checkpoint directory as the hub's ``facebook/sam3``: ``config.json`` (``sam3_video``
    for a config with the interactive head) and ``model.safetensors`` in the hub layout.

    Args:
        directory: created if needed.
        state_dict: our layout, matching ``config`` (default: ``Sam3Config.tiny()``).
        config: what ``config.json`` describes.
        unused_extras: also write the tracker tensor no path uses, as the hub file has it.

    Example:
        >>> tracker = random_tracker_tensors(Sam3Config.tiny())  # doctest: +SKIP
        >>> write_hub_checkpoint(tmp_path / "hub", {**detector, **tracker})  # doctest: +SKIP
    """
    config = config or Sam3Config.tiny()
    directory.mkdir(parents=True, exist_ok=True)
    tensors = hf_video_state_dict(state_dict) if unused_extras else hub_layout(state_dict)
    save_safetensors(directory / "model.safetensors", tensors)
    config_json = json.dumps(config_to_transformers_dict(config), indent=2)
    (directory / "config.json").write_text(config_json, encoding="utf-8")
    return directory


def tiny_transformers_video_config(**tracker_changes: Mapping[str, Any]) -> Any:
    """transformers' own ``Sam3VideoConfig`` of ``Sam3Config.tiny()`` (not our writer's),
    video memory included.

    ``tracker_changes``: ``{section: {field: value}}`` merged into ``tracker_config``'s
    ``prompt_encoder_config``, ``mask_decoder_config`` or ``vision_config``.
    """
    from transformers import Sam3VideoConfig

    detector = tiny_transformers_config()
    tracker: dict[str, Any] = {
        "vision_config": {**detector.vision_config.to_dict(), "fpn_hidden_size": 32},
        "prompt_encoder_config": {"hidden_size": 32, "image_size": 168, "patch_size": 14},
        "mask_decoder_config": {
            "hidden_size": 32,
            "num_attention_heads": 2,
            "mlp_dim": 64,
            "iou_head_hidden_dim": 32,
        },
        "memory_attention_hidden_size": 32,
        "memory_attention_num_layers": 1,
        "memory_attention_feed_forward_hidden_size": 64,
        "memory_encoder_hidden_size": 32,
        "mask_downsampler_embed_dim": 32,
        "mask_downsampler_total_stride": 4,
        "memory_fuser_embed_dim": 32,
        "memory_fuser_num_layers": 1,
        "memory_fuser_intermediate_dim": 64,
    }
    for section, changes in tracker_changes.items():
        tracker[section] = {**tracker[section], **changes}
    return Sam3VideoConfig(detector_config=detector.to_dict(), tracker_config=tracker)


def save_safetensors(path: Path, state_dict: Mapping[str, Tensor]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.contiguous() for k, v in state_dict.items()}
    safetensors.torch.save_file(tensors, path, metadata={"format": "pt"})  # as transformers
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
