"""Reading checkpoint files: formats, unwrapping, and a typed error for each kind of bad file."""

from __future__ import annotations

import argparse
import json
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


def _safetensors_with_header(path: Path, header: dict[str, object], data: bytes) -> Path:
    raw = json.dumps(header).encode()
    path.write_bytes(len(raw).to_bytes(8, "little") + raw + data)
    return path


@pytest.mark.parametrize(
    ("header", "why"),
    [
        ({"a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 12]}}, "bytes 0..12"),
        ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": []}, "malformed"),
        ({"a": {"dtype": "X9", "shape": [2], "data_offsets": [0, 8]}}, "malformed"),
        ({"a": {"dtype": "F32", "shape": [-2], "data_offsets": [0, -8]}}, "shape"),
        ({"a": {"dtype": "F32", "shape": [64], "data_offsets": [0, 256]}}, "past the end"),
    ],
)
def test_a_safetensors_header_that_does_not_fit_its_data_is_corrupt(
    tmp_path: Path, header: dict[str, object], why: str
) -> None:
    path = _safetensors_with_header(tmp_path / "w.safetensors", header, bytes(16))
    with pytest.raises(CorruptCheckpointError, match=why):
        read_state_dict(path)


def test_a_safetensors_header_longer_than_the_file_is_corrupt(tmp_path: Path) -> None:
    path = tmp_path / "w.safetensors"
    path.write_bytes((10**6).to_bytes(8, "little") + b'{"a": 1}')
    with pytest.raises(CorruptCheckpointError, match="header claims"):
        read_state_dict(path)


PROC_MAPS = Path("/proc/self/maps")


@pytest.mark.skipif(not PROC_MAPS.exists(), reason="reads Linux's list of memory mappings")
@pytest.mark.parametrize("name", ["w.safetensors", "w.pt"])
def test_tensors_are_read_into_aligned_storages_of_their_own(tmp_path: Path, name: str) -> None:
    """Not views into a mapped file: kernels then see each weight at an aligned address of
    its own, whichever file it came from (mapped weights sit wherever the file put them)."""
    path = tmp_path / name
    save_safetensors(path, TENSORS) if name.endswith(".safetensors") else save_pt(path, TENSORS)
    state_dict = read_state_dict(path)
    assert str(path.resolve()) not in PROC_MAPS.read_text()
    for tensor in state_dict.values():
        assert tensor.untyped_storage().nbytes() == tensor.numel() * tensor.element_size()
        assert tensor.storage_offset() == 0
        assert tensor.data_ptr() % 64 == 0
    _assert_same(state_dict)


@pytest.mark.parametrize(
    "dtype", [torch.float16, torch.bfloat16, torch.int64, torch.bool, torch.uint8, torch.float64]
)
def test_reads_every_safetensors_dtype_and_empty_and_scalar_tensors(
    tmp_path: Path, dtype: torch.dtype
) -> None:
    tensors = {
        "values": (torch.arange(24) % 5).reshape(2, 3, 4).to(dtype),
        "empty": torch.zeros(0, 3, dtype=dtype),
        "scalar": torch.tensor(1, dtype=dtype),
    }
    actual = read_state_dict(save_safetensors(tmp_path / "w.safetensors", tensors))
    assert actual.keys() == tensors.keys()
    for key, tensor in tensors.items():
        assert actual[key].dtype == dtype and actual[key].shape == tensor.shape
        assert torch.equal(actual[key], tensor), key
