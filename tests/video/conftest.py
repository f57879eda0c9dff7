"""Fixtures of the video tests: a tiny checkpoint that tracks, and short random clips."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers.video_checkpoint import write_tiny_video_checkpoint
from sam3lib import Segmenter


@pytest.fixture(scope="session")
def video_checkpoint_dir(shared_reference: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("tiny_video_checkpoint")
    return write_tiny_video_checkpoint(
        directory, shared_reference / "clip_bpe_simple_vocab_16e6.txt.gz"
    )


@pytest.fixture(scope="session")
def video_segmenter(video_checkpoint_dir: Path) -> Segmenter:
    """An fp32 Segmenter on the tiny tracking checkpoint."""
    return Segmenter.from_pretrained(video_checkpoint_dir)
