"""Reading checkpoint files: formats, unwrapping, and a typed error for each kind of bad file."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import torch
from checkpoint_factory import save_pt, save_safetensors, truncate

from sam3lib.checkpoint import read_state_dict
from sam3lib.errors import CheckpointError, CorruptCheckpointError, NotASam3CheckpointError

TENSORS = {"a.weight": torch.arange(6.0).reshape(2, 3), "b.bias": torch.ones(1000)}


def _assert_same(actual: dict[str, torch.Tensor]) -> None:
    assert actual.keys() == TENSORS.keys()
    assert all(torch.equal(actual[k], v) for k, v in TENSORS.items())


def test_reads_safetensors(tmp_path: Path) -> None:
    _assert_same(read_state_dict(save_safetensors(tmp_path / "w.safetensors", TENSORS)))


@pytest.mark.parametrize("suffix", [".pt", ".pth"])
def test_reads_a_torch_state_dict(tmp_path: Path, suffix: str) -> None:
    _assert_same(read_state_dict(save_pt(tmp_path / f"w{suffix}", TENSORS)))


def test_unwraps_a_training_checkpoint_under_model(tmp_path: Path) -> None:
    path = save_pt(tmp_path / "w.pt", {"model": TENSORS, "epoch": 3, "optimizer": {}})
    _assert_same(read_state_dict(path))


def test_reads_pre_zip_torch_files(tmp_path: Path) -> None:
    path = tmp_path / "legacy.pt"
    torch.save(TENSORS, path, _use_new_zipfile_serialization=False)
    _assert_same(read_state_dict(path))


def test_truncated_safetensors_is_corrupt(tmp_path: Path) -> None:
    path = truncate(save_safetensors(tmp_path / "w.safetensors", TENSORS))
    with pytest.raises(CorruptCheckpointError):
        read_state_dict(path)


def test_safetensors_cut_inside_its_header_is_corrupt(tmp_path: Path) -> None:
    path = save_safetensors(tmp_path / "w.safetensors", TENSORS)
    path.write_bytes(path.read_bytes()[:20])
    with pytest.raises(CorruptCheckpointError):
        read_state_dict(path)


def test_empty_safetensors_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    path.write_bytes(b"")
    with pytest.raises(CorruptCheckpointError):
        read_state_dict(path)


def test_truncated_torch_file_is_corrupt(tmp_path: Path) -> None:
    path = truncate(save_pt(tmp_path / "w.pt", TENSORS))
    with pytest.raises(CorruptCheckpointError):
        read_state_dict(path)


@pytest.mark.parametrize("name", ["w.safetensors", "w.pt"])
def test_a_renamed_text_file_is_not_a_checkpoint(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("these are not the weights you are looking for\n" * 20)
    with pytest.raises(NotASam3CheckpointError):
        read_state_dict(path)


def test_a_pickled_python_object_is_refused(tmp_path: Path) -> None:
    path = save_pt(tmp_path / "w.pt", {"model": TENSORS, "args": argparse.Namespace(lr=0.1)})
    with pytest.raises(NotASam3CheckpointError, match="weights_only"):
        read_state_dict(path)


@pytest.mark.parametrize("content", [[torch.zeros(1)], {"a": torch.zeros(1), "step": 3}])
def test_a_pickle_that_is_not_a_state_dict_is_not_a_checkpoint(
    tmp_path: Path, content: object
) -> None:
    with pytest.raises(NotASam3CheckpointError):
        read_state_dict(save_pt(tmp_path / "w.pt", content))


def test_a_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        read_state_dict(tmp_path / "absent.safetensors")


def test_an_unknown_suffix_is_an_error(tmp_path: Path) -> None:
    path = save_pt(tmp_path / "w.bin", TENSORS)
    with pytest.raises(CheckpointError, match="suffix"):
        read_state_dict(path)


PROC_MAPS = Path("/proc/self/maps")


@pytest.mark.skipif(not PROC_MAPS.exists(), reason="reads Linux's list of memory mappings")
@pytest.mark.parametrize("name", ["w.safetensors", "w.pt"])
def test_files_are_memory_mapped_not_read(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    save_safetensors(path, TENSORS) if name.endswith(".safetensors") else save_pt(path, TENSORS)
    state_dict = read_state_dict(path)
    assert str(path.resolve()) in PROC_MAPS.read_text()
    _assert_same(state_dict)
