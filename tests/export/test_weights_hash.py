"""The weights hash identifies weights, not files: same tensors, same hash, whatever the format."""

from __future__ import annotations

import shutil
from pathlib import Path

import torch

from sam3lib.checkpoint import load_resolved_model, ours_to_meta, resolve_checkpoint
from sam3lib.export import weights_sha256


def test_same_weights_from_safetensors_and_meta_pt_hash_alike(
    tiny_hf_checkpoint: Path, tmp_path: Path
) -> None:
    model = load_resolved_model(resolve_checkpoint(tiny_hf_checkpoint))
    torch.save(ours_to_meta(model.state_dict()), tmp_path / "sam3.pt")
    shutil.copyfile(tiny_hf_checkpoint / "config.json", tmp_path / "config.json")
    from_meta = load_resolved_model(resolve_checkpoint(tmp_path))
    assert resolve_checkpoint(tmp_path).weights_path == tmp_path / "sam3.pt"
    assert weights_sha256(from_meta) == weights_sha256(model)


def test_any_change_to_a_weight_changes_the_hash(tiny_hf_checkpoint: Path) -> None:
    model = load_resolved_model(resolve_checkpoint(tiny_hf_checkpoint))
    before = weights_sha256(model)
    with torch.no_grad():
        parameter = next(model.parameters())
        parameter.view(-1)[0] = torch.nextafter(parameter.view(-1)[0], torch.tensor(1.0))
    nudged = weights_sha256(model)
    assert nudged != before
    assert weights_sha256(model.to(torch.bfloat16)) != nudged  # dtype is part of the identity
