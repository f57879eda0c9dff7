"""Fixtures of the checkpoint tests: reference key lists and a tiny state dict in our layout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from checkpoint_factory import read_tsv
from torch import Tensor


@pytest.fixture(scope="session")
def meta_key_shapes(shared_reference: Path) -> dict[str, tuple[int, ...]]:
    """Keys and shapes of Meta's full-size sam3.pt."""
    return read_tsv(shared_reference / "keys_official_sam3_pt.tsv")


@pytest.fixture(scope="session")
def hf_key_shapes(shared_reference: Path) -> dict[str, tuple[int, ...]]:
    """Keys and shapes of transformers' full-size Sam3Model: our layout."""
    return read_tsv(shared_reference / "keys_hf_sam3_detector.tsv")


@pytest.fixture(scope="session")
def tiny_state_dict(transformers_reference: Any) -> dict[str, Tensor]:
    """The tiny reference model's weights (random, distinct per tensor), in our layout."""
    with torch.no_grad():
        return {k: v.detach().clone() for k, v in transformers_reference.state_dict().items()}


@pytest.fixture(scope="session")
def tiny_config_json(tiny_hf_checkpoint: Path) -> Path:
    """transformers' config.json for ``Sam3Config.tiny()``."""
    return tiny_hf_checkpoint / "config.json"
