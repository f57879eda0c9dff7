"""Shared fixtures: tiny checkpoints written by the reference implementation."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import torch
from filelock import FileLock

from helpers.tiny_export import export_tiny, failure_marker, write_tiny_interactive_checkpoint
from helpers.transformers_reference import (
    build_tiny_reference,
    install_reference_roi_align,
    save_reference,
)
from helpers.transformers_tracker_reference import build_tiny_tracker_reference
from helpers.video_checkpoint import write_tiny_video_checkpoint
from sam3lib import Segmenter
from sam3lib.tokenizer import write_clip_vocab_files

SHARED_REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"
EXPORT_TIMEOUT_S = 900


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
    return write_tiny_interactive_checkpoint(
        tmp_path_factory.mktemp("tiny_interactive_checkpoint"),
        transformers_reference,
        tracker_reference,
        shared_reference,
    )


@pytest.fixture(scope="session")
def interactive_segmenter(tiny_interactive_checkpoint_dir: Path) -> Segmenter:
    """An fp32 Segmenter on :func:`tiny_interactive_checkpoint_dir`: text, clicks, boxes."""
    return Segmenter.from_pretrained(tiny_interactive_checkpoint_dir)


@pytest.fixture(scope="session")
def tiny_export_dir(
    tiny_interactive_checkpoint_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """:func:`tiny_interactive_checkpoint_dir` exported to ONNX by ``sam3lib export`` (batch 1,
    at most 4 prompts and 3 boxes per call; 2 objects and 6 points per interactive-decoder
    call), tokenizer files beside the graphs. Exported once per test run, in the background
    from the start of the run (:mod:`helpers.tiny_export`); waited for here."""
    out = _shared_temp(tmp_path_factory) / "tiny_export"
    started = time.monotonic()
    while not (out / "manifest.json").is_file():
        failed = failure_marker(out)
        if failed.is_file():
            pytest.fail(f"the background export failed:\n{failed.read_text()}")
        if not _export_started(out):  # no test of this run was collected as needing it
            with FileLock(str(out.with_name("tiny_export.lock"))):
                if not (out / "manifest.json").is_file():
                    export_tiny(tiny_interactive_checkpoint_dir, out)
            break
        if time.monotonic() - started > EXPORT_TIMEOUT_S:
            pytest.fail(f"the background export did not finish in {EXPORT_TIMEOUT_S} s")
        time.sleep(0.5)
    return out


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """Starts the tiny export in the background when a collected test needs it."""
    if not any("tiny_export_dir" in getattr(item, "fixturenames", ()) for item in items):
        return
    # pytest's own tmp_path factory (the fixture is not available to hooks)
    out = _shared_temp(config._tmp_path_factory) / "tiny_export"  # type: ignore[attr-defined]
    with FileLock(str(out.with_name("tiny_export.lock"))):
        if _export_started(out):
            return
        tests = Path(__file__).resolve().parent
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tests), *sys.path])}
        with out.with_name("tiny_export.log").open("w") as log:
            subprocess.Popen(
                [sys.executable, "-m", "helpers.tiny_export", str(out), str(SHARED_REFERENCE)],
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        out.with_name("tiny_export.started").touch()


def _export_started(out: Path) -> bool:
    return out.with_name("tiny_export.started").is_file()


def _shared_temp(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This run's temporary directory shared by its xdist workers (their own ones' parent)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


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
