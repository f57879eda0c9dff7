"""Fixtures of the Segmenter tests: one fp32 Segmenter on the tiny checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from sam3lib import Segmenter


@pytest.fixture(scope="session")
def segmenter(tiny_checkpoint_dir: Path) -> Segmenter:
    return Segmenter.from_pretrained(tiny_checkpoint_dir)
