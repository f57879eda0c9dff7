"""Checkpoints and engines that cannot track are refused before any frame is read, with the
reason."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from helpers.clips import random_clip
from sam3lib import InputError, InteractiveUnavailableError, Segmenter
from sam3lib.bench.weights import random_state_dict, write_checkpoint
from sam3lib.model import Sam3Config
from sam3lib.tokenizer import write_clip_vocab_files

CLICK = {1: ([[10, 10]], [1])}


def random_segmenter(config: Sam3Config, directory: Path, shared_reference: Path) -> Segmenter:
    write_checkpoint(config, random_state_dict(config), directory)
    write_clip_vocab_files(shared_reference / "clip_bpe_simple_vocab_16e6.txt.gz", directory)
    return Segmenter.from_pretrained(directory)


def test_a_detector_only_checkpoint_cannot_track(tiny_checkpoint_dir: Path) -> None:
    segmenter = Segmenter.from_pretrained(tiny_checkpoint_dir)
    with pytest.raises(InteractiveUnavailableError, match="no tracker memory"):
        segmenter.track(random_clip(2), "person")


def test_a_checkpoint_without_video_memory_cannot_track(
    tmp_path: Path, shared_reference: Path
) -> None:
    """A tracker head without its memory weights: clicks on images, no video."""
    segmenter = random_segmenter(replace(Sam3Config.tiny(), video=None), tmp_path, shared_reference)
    assert segmenter.backend.config.tracker is not None
    assert segmenter.backend.config.video is None
    with pytest.raises(InteractiveUnavailableError, match="no tracker memory"):
        segmenter.track(random_clip(2), points=CLICK)


def test_a_pointer_wider_than_whole_memory_tokens_is_refused(
    tmp_path: Path, shared_reference: Path
) -> None:
    """The tiny config's 32-wide tracker with transformers' 64 memory channels: a pointer
    cannot be split into memory tokens (Meta's code could not run it either)."""
    segmenter = random_segmenter(Sam3Config.tiny(), tmp_path, shared_reference)
    with pytest.raises(InteractiveUnavailableError, match="not a multiple of its 64 memory"):
        segmenter.track(random_clip(2), points=CLICK)


def test_an_exported_engine_cannot_track(tiny_export_dir: Path) -> None:
    segmenter = Segmenter.from_pretrained(tiny_export_dir, backend="onnxruntime")
    with pytest.raises(InputError, match="backend='eager' or 'amp', not 'onnxruntime'"):
        segmenter.track(random_clip(2), points=CLICK)
