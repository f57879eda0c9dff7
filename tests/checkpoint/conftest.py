"""Fixtures of the checkpoint tests: reference key lists and tiny state dicts in our layout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from checkpoint_factory import random_tracker_tensors, read_tsv
from torch import Tensor

from sam3lib.model import Sam3Config


@pytest.fixture(scope="session")
def meta_key_shapes(shared_reference: Path) -> dict[str, tuple[int, ...]]:
    """Keys and shapes of Meta's full-size sam3.pt."""
    return read_tsv(shared_reference / "keys_official_sam3_pt.tsv")


@pytest.fixture(scope="session")
def hf_key_shapes(shared_reference: Path) -> dict[str, tuple[int, ...]]:
    """Keys and shapes of transformers' full-size Sam3Model: our layout of the detector."""
    return read_tsv(shared_reference / "keys_hf_sam3_detector.tsv")


@pytest.fixture(scope="session")
def hf_tracker_key_shapes(shared_reference: Path) -> dict[str, tuple[int, ...]]:
    """Keys and shapes of transformers' full-size Sam3VideoModel under ``tracker_model.`` and
    ``tracker_neck.``: the hub file's tracker, video memory included."""
    return read_tsv(shared_reference / "keys_hf_sam3_tracker.tsv")


@pytest.fixture(scope="session")
def tiny_state_dict(transformers_reference: Any) -> dict[str, Tensor]:
    """The tiny reference model's weights (random, distinct per tensor), in our layout: the
    detector only, as transformers' ``Sam3Model`` has no interactive head."""
    with torch.no_grad():
        return {k: v.detach().clone() for k, v in transformers_reference.state_dict().items()}


@pytest.fixture(scope="session")
def tiny_state_dict_with_tracker(tiny_state_dict: dict[str, Tensor]) -> dict[str, Tensor]:
    """Weights of ``Sam3Model(Sam3Config.tiny())``, both heads: the detector reference's plus
    random interactive-head tensors, in our layout."""
    return {**tiny_state_dict, **random_tracker_tensors(Sam3Config.tiny(), seed=5)}


@pytest.fixture(scope="session")
def tiny_config_json(tiny_hf_checkpoint: Path) -> Path:
    """transformers' config.json for the tiny detector (``model_type`` ``sam3``)."""
    return tiny_hf_checkpoint / "config.json"
