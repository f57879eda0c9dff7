"""A tiny Segmenter WITH the interactive head, built in-process with random weights.

Stands in for a checkpoint directory with tracker weights until the checkpoint layouts load
them; the tokenizer comes from a tiny checkpoint directory.
"""

from __future__ import annotations

from pathlib import Path

import torch

from sam3lib import Sam3Config, Sam3Model, Segmenter
from sam3lib.backends.eager import EagerBackend
from sam3lib.tokenizer import Sam3Tokenizer

# Weights this wide make the random head's best candidate a partial mask (a few thousand of
# the photo's 47 500 pixels), not an empty or a full one: a mask that visibly "appears".
_WEIGHT_STD = 0.2


def build_interactive_segmenter(tokenizer_dir: Path, seed: int = 0) -> Segmenter:
    """An fp32 eager Segmenter on ``Sam3Config.tiny()`` with random normal weights."""
    generator = torch.Generator().manual_seed(seed)
    model = Sam3Model(Sam3Config.tiny())
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * _WEIGHT_STD)
        for name, buffer in model.named_buffers():
            if name.endswith("positional_embedding"):
                buffer.copy_(torch.randn(buffer.shape, generator=generator))
    return Segmenter(EagerBackend(model), Sam3Tokenizer.from_directory(tokenizer_dir))
