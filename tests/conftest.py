"""Shared fixtures: tiny checkpoints written by the reference implementation."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import torch
from filelock import FileLock

from checkpoint.checkpoint_factory import write_hub_checkpoint
from helpers.transformers_reference import (
    build_tiny_reference,
    install_reference_roi_align,
    save_reference,
)
from helpers.transformers_tracker_reference import build_tiny_tracker_reference, our_state_dict
from helpers.video_checkpoint import write_tiny_video_checkpoint
from sam3lib import Segmenter
from sam3lib.model import Sam3Config
from sam3lib.tokenizer import write_clip_vocab_files

SHARED_REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):
        # One worker per core: with torch's default of one thread per core in each worker (and
        # in the processes tests start), two workers' thread pools fight over the two cores
        # and every test runs several times slower.
        os.environ["OMP_NUM_THREADS"] = "1"
        torch.set_num_threads(1)


@pytest.fixture(scope="session")
def shared_reference() -> Path:
    """``../shared/reference`` beside the repository (present in CI)."""
    if not SHARED_REFERENCE.is_dir():
        pytest.fail(f"{SHARED_REFERENCE} is missing: clone the repository beside shared/")
    return SHARED_REFERENCE


@pytest.fixture(scope="session")
def transformers_reference() -> Any:
    """A tiny transformers ``Sam3Model`` in eval mode, able to run box prompts."""
    install_reference_roi_align()
    return build_tiny_reference(seed=0)


@pytest.fixture(scope="session")
def tiny_hf_checkpoint(
    transformers_reference: Any, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The reference model written by ``save_pretrained`` (config.json + model.safetensors)."""
    return save_reference(transformers_reference, tmp_path_factory.mktemp("tiny_hf"))


@pytest.fixture(scope="session")
def tiny_checkpoint_dir(
    tiny_hf_checkpoint: Path, shared_reference: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The tiny checkpoint plus the real CLIP tokenizer files: what ``Segmenter`` loads."""
    directory = tmp_path_factory.mktemp("tiny_checkpoint")
    shutil.copytree(tiny_hf_checkpoint, directory, dirs_exist_ok=True)
    write_clip_vocab_files(shared_reference / "clip_bpe_simple_vocab_16e6.txt.gz", directory)
    return directory


@pytest.fixture(scope="session")
def tracker_reference(transformers_reference: Any) -> Any:
    """transformers' tiny ``Sam3TrackerModel`` sharing the detector reference's ViT trunk."""
    return build_tiny_tracker_reference(transformers_reference)


@pytest.fixture(scope="session")
def tiny_interactive_checkpoint_dir(
    transformers_reference: Any,
    tracker_reference: Any,
    shared_reference: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """A tiny checkpoint with both heads, laid out as the hub's facebook/sam3 (config.json
    ``sam3_video``, ``model.safetensors`` with the tracker), plus the CLIP tokenizer files."""
    directory = tmp_path_factory.mktemp("tiny_interactive_checkpoint")
    weights = our_state_dict(transformers_reference, tracker_reference)
    write_hub_checkpoint(directory, weights, Sam3Config.tiny())
    write_clip_vocab_files(shared_reference / "clip_bpe_simple_vocab_16e6.txt.gz", directory)
    return directory


@pytest.fixture(scope="session")
def interactive_segmenter(tiny_interactive_checkpoint_dir: Path) -> Segmenter:
    """An fp32 Segmenter on :func:`tiny_interactive_checkpoint_dir`: text, clicks, boxes."""
    return Segmenter.from_pretrained(tiny_interactive_checkpoint_dir)


@pytest.fixture(scope="session")
def tiny_export_dir(
    tiny_interactive_checkpoint_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The tiny checkpoint with both heads exported to ONNX by ``sam3lib export`` (batch 1, at
    most 4 prompts and 3 boxes per call; 2 objects and 6 points per interactive-decoder call),
    tokenizer files beside the graphs. Its detector weights are :func:`tiny_checkpoint_dir`'s.
    Tracing the five graphs takes a minute or two on two cores: done once, by the command
    itself, which the export tests check."""
    from sam3lib.export.command import main as export_command

    # Exported once per test run, not once per xdist worker: the workers share the parent of
    # their temporary directories, and the first to take the lock exports (its weights are
    # seeded, so every worker's tiny checkpoint is the same) while the others wait for it.
    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # this run's only
    out = shared / "tiny_export"
    with FileLock(str(shared / "tiny_export.lock")):
        if not (out / "manifest.json").is_file():
            _export_tiny(export_command, tiny_interactive_checkpoint_dir, out)
    return out


def _export_tiny(export_command: Any, checkpoint_dir: Path, out: Path) -> None:
    sizes = [
        "--batch",
        "1",
        "--max-prompts",
        "4",
        "--max-boxes",
        "3",
        "--jobs",
        "2",
    ]  # two cores: halves the tracing time
    sizes += ["--max-objects", "2", "--max-points", "6"]
    partial = out.with_name("tiny_export.partial")
    shutil.rmtree(partial, ignore_errors=True)
    assert export_command([str(checkpoint_dir), str(partial), *sizes, "--quiet"]) == 0
    partial.rename(out)


@pytest.fixture(scope="session")
def photo() -> npt.NDArray[np.uint8]:
    """A 190 x 250 RGB image: smooth shapes plus noise, so features vary across the image."""
    rows, cols = np.mgrid[0:190, 0:250]
    rng = np.random.default_rng(7)
    red = 255 * ((rows - 60) ** 2 + (cols - 80) ** 2 < 40**2)
    green = 255 * ((abs(rows - 120) < 30) & (abs(cols - 180) < 45))
    blue = (rows + cols) % 256
    image = np.stack([red, green, blue], axis=-1) + rng.integers(0, 40, (190, 250, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


@pytest.fixture(scope="session")
def video_checkpoint_dir(shared_reference: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny checkpoint that can track (:mod:`helpers.video_checkpoint`)."""
    directory = tmp_path_factory.mktemp("tiny_video_checkpoint")
    return write_tiny_video_checkpoint(
        directory, shared_reference / "clip_bpe_simple_vocab_16e6.txt.gz"
    )


@pytest.fixture(scope="session")
def video_segmenter(video_checkpoint_dir: Path) -> Segmenter:
    """An fp32 Segmenter on :func:`video_checkpoint_dir`."""
    return Segmenter.from_pretrained(video_checkpoint_dir)
