"""Shared fixtures: tiny checkpoints written by the reference implementation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from helpers.transformers_reference import (
    build_tiny_reference,
    install_reference_roi_align,
    save_reference,
)

SHARED_REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference"


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
