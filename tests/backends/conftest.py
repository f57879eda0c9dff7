"""Fixtures for the backend tests: the tiny checkpoints resolved, and realistic inputs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from helpers.pictures import regions_picture
from sam3lib.checkpoint import ResolvedCheckpoint, load_resolved_model, resolve_checkpoint
from sam3lib.model import Sam3Config, Sam3Model

IMAGE_SIZE = Sam3Config.tiny().vision.image_size


@pytest.fixture(scope="session")
def resolved(tiny_hf_checkpoint: Path) -> ResolvedCheckpoint:
    return resolve_checkpoint(tiny_hf_checkpoint)


@pytest.fixture
def model(resolved: ResolvedCheckpoint) -> Sam3Model:
    """A fresh fp32 model per test: ``cast_weights`` casts it in place."""
    return load_resolved_model(resolved)


@pytest.fixture(scope="session")
def interactive_model(tiny_interactive_checkpoint_dir: Path) -> Sam3Model:
    """The tiny model with both heads (the detector's weights are ``model``'s): the weights
    ``tiny_export_dir`` was exported from. Shared: tests must not change it."""
    return load_resolved_model(resolve_checkpoint(tiny_interactive_checkpoint_dir))


@pytest.fixture(scope="session")
def pixels() -> torch.Tensor:
    """A picture with regions and edges (see ``helpers.pictures`` for why not noise)."""
    return regions_picture(IMAGE_SIZE)


@pytest.fixture(scope="session")
def text() -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids of "a red car" (SOT ... EOT, zero padding) and their mask."""
    ids = torch.tensor([[49406, 320, 736, 1615, 49407] + [0] * 27])
    return ids, torch.arange(32)[None] < 5


@pytest.fixture(scope="session")
def box_prompt() -> dict[str, torch.Tensor]:
    """One positive exemplar box around the disk and one negative around the rectangle."""
    return {
        "boxes_cxcywh": torch.tensor([[[0.36, 0.42, 0.42, 0.42], [0.73, 0.45, 0.33, 0.54]]]),
        "box_labels": torch.tensor([[1, 0]]),
    }
