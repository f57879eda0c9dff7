"""A checkpoint saved by transformers with a vocabulary of its own: its special tokens sit at
other ids than CLIP's 49406/49407, declared in config.json and in the tokenizer files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import torch

from helpers.transformers_reference import tiny_transformers_config
from sam3lib import Segmenter
from sam3lib.errors import InputError
from sam3lib.tokenizer import Sam3Tokenizer

# Byte-level BPE over a few letters: enough to spell the prompts below in several merges.
_SYMBOLS = [*"abcdeiklmnoprstuwy", *(c + "</w>" for c in "abcdeiklmnoprstuwy")]
_MERGES = [("r", "e"), ("c", "a"), ("ca", "r</w>"), ("re", "d</w>")]
PROMPTS = ["a red car", "brown dog", "car"]


def _small_vocabulary(directory: Path) -> dict[str, int]:
    """vocab.json + merges.txt with the two special tokens first (ids 0 and 1)."""
    tokens = ["<|startoftext|>", "<|endoftext|>", *_SYMBOLS, *(a + b for a, b in _MERGES)]
    vocab = {token: index for index, token in enumerate(tokens)}
    (directory / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    lines = ["#version: 0.2", *(f"{a} {b}" for a, b in _MERGES)]
    (directory / "merges.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return vocab


@pytest.fixture(scope="module")
def own_vocabulary_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Any]:
    """transformers' Sam3Model and CLIP tokenizer, both written by ``save_pretrained``."""
    import transformers

    directory = tmp_path_factory.mktemp("own_vocabulary")
    vocab = _small_vocabulary(directory)
    hf_tokenizer = transformers.CLIPTokenizer(
        str(directory / "vocab.json"), str(directory / "merges.txt")
    )
    hf_tokenizer.save_pretrained(directory)
    config = tiny_transformers_config()
    text = config.text_config
    text.vocab_size = len(vocab)
    text.bos_token_id, text.eos_token_id, text.pad_token_id = 0, 1, 1
    torch.manual_seed(0)
    transformers.Sam3Model(config).eval().save_pretrained(directory)
    return directory, hf_tokenizer


def test_the_special_token_ids_are_the_checkpoints_own(
    own_vocabulary_checkpoint: tuple[Path, Any],
) -> None:
    directory, hf_tokenizer = own_vocabulary_checkpoint
    assert json.loads((directory / "config.json").read_text())["text_config"]["bos_token_id"] == 0
    tokenizer = Sam3Tokenizer.from_directory(directory)
    assert (tokenizer.start_token_id, tokenizer.end_token_id) == (0, 1)
    batch = tokenizer.encode(PROMPTS)
    for row, prompt in enumerate(PROMPTS):
        expected = hf_tokenizer(prompt)["input_ids"]  # transformers' own tokenization
        assert batch.ids[row, : len(expected)].tolist() == expected
        assert int(batch.attention_mask[row].sum()) == len(expected)


def test_a_segmenter_loads_it_and_segments(
    own_vocabulary_checkpoint: tuple[Path, Any], photo: npt.NDArray[np.uint8]
) -> None:
    directory, _ = own_vocabulary_checkpoint
    segmenter = Segmenter.from_pretrained(directory)
    assert segmenter.backend.config.text.start_token_id == 0
    result = segmenter.segment(photo, "a red car", threshold=0.0)  # keep all 10 queries
    assert result.masks.shape == (10, *photo.shape[:2])


def test_clips_tokenizer_with_a_smaller_text_embedding_is_refused(
    own_vocabulary_checkpoint: tuple[Path, Any], tiny_checkpoint_dir: Path
) -> None:
    directory, _ = own_vocabulary_checkpoint
    with pytest.raises(InputError, match="49408 ids but the model's text encoder embeds"):
        Segmenter.from_pretrained(directory, tokenizer=tiny_checkpoint_dir)
