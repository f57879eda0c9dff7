"""Random weights of the real size, and a checkpoint directory holding them.

Speed does not depend on the weights' values (no branch of the model does), so the benchmark
needs no download: a seeded random init has the real cost. Linear and convolution weights are
drawn with standard deviation 1/√fan-in so activations keep their scale through the 32 ViT
layers; norms start at (1, 0), biases at 0, the interactive head's random-Fourier matrix at
N(0, 1) (as Meta and transformers draw it), other parameters (position tables, queries,
embeddings) at N(0, 0.02²).

The checkpoint directory is what ``sam3lib convert`` writes (``model.safetensors``,
``config.json``, in the hub's layout) so both :meth:`sam3lib.Segmenter.from_pretrained` and
transformers' ``from_pretrained`` read it, plus a byte-level CLIP-style vocabulary: every
prompt tokenizes, one token per byte.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from tokenizers import pre_tokenizers
from torch import Tensor, nn

from sam3lib.checkpoint.convert import write_transformers_checkpoint
from sam3lib.model import Sam3Config, Sam3Model
from sam3lib.model.prompt_encoder import RandomFourierEncoding
from sam3lib.tokenizer import END_TOKEN, END_TOKEN_ID, MERGES_FILE, START_TOKEN, START_TOKEN_ID
from sam3lib.tokenizer import VOCAB_FILE as VOCAB_FILENAME

_END_OF_WORD = "</w>"


def random_state_dict(config: Sam3Config, seed: int = 0) -> dict[str, Tensor]:
    """A float32 state dict with our (= transformers') keys and shapes, drawn from ``seed``.

    Example:
        >>> state = random_state_dict(Sam3Config.tiny())
        >>> state["detr_decoder.query_embed.weight"].shape
        torch.Size([10, 32])
    """
    with torch.device("meta"):
        model = Sam3Model(config)
    generator = torch.Generator().manual_seed(seed)
    state: dict[str, Tensor] = {}
    for module_name, module in model.named_modules():
        for name, parameter in module.named_parameters(recurse=False):
            key = f"{module_name}.{name}" if module_name else name
            state[key] = _initial_value(module, name, parameter.shape, generator)
        if isinstance(module, RandomFourierEncoding):  # the one persistent buffer
            key = f"{module_name}.positional_embedding"
            state[key] = torch.randn(module.positional_embedding.shape, generator=generator)
    missing = model.state_dict().keys() - state.keys()
    if missing:  # a new buffer needs its own rule
        raise RuntimeError(f"no init rule for {sorted(missing)}")
    return state


def _initial_value(
    module: nn.Module, name: str, shape: torch.Size, generator: torch.Generator
) -> Tensor:
    if isinstance(module, (nn.LayerNorm, nn.GroupNorm)):
        return torch.ones(shape) if name == "weight" else torch.zeros(shape)
    if name == "bias":
        return torch.zeros(shape)
    if isinstance(module, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)) and name == "weight":
        fan_in = math.prod(shape[1:])
        if isinstance(module, nn.ConvTranspose2d):  # weight is (in, out, kh, kw)
            fan_in = shape[0]
        return torch.randn(shape, generator=generator) / math.sqrt(fan_in)
    return torch.randn(shape, generator=generator) * 0.02


def write_checkpoint(config: Sam3Config, state: dict[str, Tensor], directory: Path) -> Path:
    """Write ``state`` as a hub-style checkpoint directory (weights, config, vocabulary).

    Example:
        >>> import tempfile
        >>> config = Sam3Config.tiny()
        >>> out = write_checkpoint(config, random_state_dict(config), Path(tempfile.mkdtemp()))
        >>> sorted(p.name for p in out.iterdir())
        ['config.json', 'merges.txt', 'model.safetensors', 'vocab.json']
    """
    write_transformers_checkpoint(config, state, directory)
    write_byte_vocabulary(directory)
    return directory


def write_byte_vocabulary(directory: Path) -> None:
    """``vocab.json`` + an empty ``merges.txt``: CLIP's byte symbols, no merges.

    The special tokens keep CLIP's ids, so the token ids are valid for the text encoder's
    embedding table; prompts are longer in tokens than with CLIP's merges, which costs nothing
    since the text encoder always runs on the full context.
    """
    symbols = pre_tokenizers.ByteLevel.alphabet()
    tokens = sorted(symbols) + sorted(symbol + _END_OF_WORD for symbol in symbols)
    vocab = {token: index for index, token in enumerate(tokens)}
    vocab.update({START_TOKEN: START_TOKEN_ID, END_TOKEN: END_TOKEN_ID})
    (directory / VOCAB_FILENAME).write_text(json.dumps(vocab, ensure_ascii=False), "utf-8")
    (directory / MERGES_FILE).write_text("#version: 0.2\n", encoding="utf-8")
