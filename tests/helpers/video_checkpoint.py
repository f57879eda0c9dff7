"""A tiny checkpoint that can track: the tiny config with a 32-channel video memory (the tiny
tracker is 32 wide; an object pointer is split into memory-wide tokens), seeded random
weights, the real CLIP tokenizer files."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from sam3lib.bench.weights import random_state_dict, write_checkpoint
from sam3lib.model.config import (
    MemoryAttentionConfig,
    MemoryEncoderConfig,
    Sam3Config,
    VideoConfig,
)
from sam3lib.tokenizer import write_clip_vocab_files


def tiny_video_config() -> Sam3Config:
    """:meth:`Sam3Config.tiny` whose video memory has 32 channels (the tiny one has 64, as
    transformers hard-codes, which a 32-wide tracker cannot run)."""
    return replace(
        Sam3Config.tiny(),
        video=VideoConfig(
            memory_encoder=MemoryEncoderConfig(
                hidden_size=32,
                downsampler_channels=(4, 16),
                fuser_layers=1,
                fuser_mlp_ratio=2,
                memory_channels=32,
            ),
            memory_attention=MemoryAttentionConfig(
                hidden_size=32, num_layers=1, mlp_dim=64, memory_channels=32
            ),
        ),
    )


def write_tiny_video_checkpoint(directory: Path, vocabulary: Path, seed: int = 0) -> Path:
    """Writes the checkpoint into ``directory``; ``vocabulary`` is the CLIP BPE file."""
    config = tiny_video_config()
    write_checkpoint(config, random_state_dict(config, seed), directory)
    write_clip_vocab_files(vocabulary, directory)
    return directory
