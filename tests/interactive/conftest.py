"""Fixtures of the interactive tests: the tiny model with both heads, as a Segmenter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from helpers.transformers_tracker_reference import (
    build_our_tiny_model,
    build_tiny_tracker_reference,
)
from sam3lib import Segmenter
from sam3lib.backends.eager import EagerBackend
from sam3lib.model import Sam3Model
from sam3lib.tokenizer import Sam3Tokenizer


@pytest.fixture(scope="session")
def tracker_reference(transformers_reference: Any) -> Any:
    """transformers' tiny ``Sam3TrackerModel`` sharing the detector reference's ViT trunk."""
    return build_tiny_tracker_reference(transformers_reference)


@pytest.fixture(scope="session")
def tiny_interactive_model(transformers_reference: Any, tracker_reference: Any) -> Sam3Model:
    """Our tiny model, both heads, with the two references' weights."""
    return build_our_tiny_model(transformers_reference, tracker_reference)


@pytest.fixture(scope="session")
def in_process_segmenter(tiny_interactive_model: Sam3Model, tiny_checkpoint_dir: Path) -> Segmenter:
    return Segmenter(
        EagerBackend(tiny_interactive_model), Sam3Tokenizer.from_directory(tiny_checkpoint_dir)
    )
