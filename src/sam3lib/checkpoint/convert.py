"""Convert Meta's ``sam3.pt`` into a checkpoint directory that sam3lib and transformers load.

The directory holds ``model.safetensors`` (memory-mappable, no pickle) and a
transformers-format ``config.json``, in the layout transformers itself saves: the hub's
``Sam3VideoModel`` layout (``detector_model.*``, ``tracker_model.*`` with the video memory,
``tracker_neck.*``) for the full model, ``Sam3Model``'s (our keys, no prefix) for a
detector-only one. Usage: ``sam3lib convert sam3.pt OUT_DIR``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path

import safetensors.torch
import torch
from torch import Tensor

from sam3lib.checkpoint.files import read_state_dict
from sam3lib.checkpoint.layouts import to_hf_video_layout, to_our_layout
from sam3lib.checkpoint.loader import check_state_dict, config_for_weights
from sam3lib.checkpoint.resolve import HUB_WEIGHTS_FILENAME
from sam3lib.checkpoint.transformers_config import CONFIG_FILENAME, config_to_transformers_dict
from sam3lib.errors import Sam3Error
from sam3lib.model import Sam3Config, Sam3Model


def convert_meta_checkpoint(
    checkpoint_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    config: Sam3Config | None = None,
) -> Path:
    """Write ``out_dir/model.safetensors`` and ``out_dir/config.json`` from Meta's ``sam3.pt``.

    The weights are checked against the model ``config`` describes (default: the published
    SAM 3; without the interactive head if the weights lack it, as the loader does) before
    anything is written. Other layouts the loader reads are accepted as well.

    Returns:
        ``out_dir``, ready for :meth:`sam3lib.model.Sam3Model.from_pretrained`.

    Raises:
        CheckpointError: or a subclass, if the checkpoint cannot be read or does not match.

    Example:
        >>> convert_meta_checkpoint("sam3.pt", "checkpoints/sam3")  # doctest: +SKIP
        PosixPath('checkpoints/sam3')
    """
    state_dict = to_our_layout(read_state_dict(Path(checkpoint_path)))
    config = config_for_weights(config or Sam3Config.sam3(), state_dict)
    with torch.device("meta"):
        expected = {key: value.shape for key, value in Sam3Model(config).state_dict().items()}
    check_state_dict(state_dict, expected, source=os.fspath(checkpoint_path))

    return write_transformers_checkpoint(config, state_dict, out_dir)


def write_transformers_checkpoint(
    config: Sam3Config, state_dict: Mapping[str, Tensor], out_dir: str | os.PathLike[str]
) -> Path:
    """Write ``state_dict`` (our layout, matching ``config``) as ``model.safetensors`` and
    ``config.json`` in the layout transformers saves for ``config`` (see the module doc).

    Example:
        >>> from sam3lib.bench.weights import random_state_dict
        >>> import tempfile
        >>> out = write_transformers_checkpoint(
        ...     Sam3Config.tiny(), random_state_dict(Sam3Config.tiny()), tempfile.mkdtemp()
        ... )
        >>> sorted(p.name for p in out.iterdir())
        ['config.json', 'model.safetensors']
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tensors = dict(state_dict) if config.tracker is None else to_hf_video_layout(state_dict)
    weights = out / HUB_WEIGHTS_FILENAME
    partial = weights.with_name(weights.name + ".partial")
    # safetensors' "format" metadata is what transformers checks before loading a file.
    safetensors.torch.save_file(_unshared(tensors), partial, metadata={"format": "pt"})
    partial.replace(weights)  # never leave a truncated model.safetensors behind
    config_json = json.dumps(config_to_transformers_dict(config), indent=2) + "\n"
    (out / CONFIG_FILENAME).write_text(config_json, encoding="utf-8")
    return out


def _unshared(state_dict: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """safetensors refuses tensors sharing storage: copy the q/k/v views split from one tensor."""
    seen: set[int] = set()
    result: dict[str, Tensor] = {}
    for key, tensor in state_dict.items():
        storage = tensor.untyped_storage().data_ptr()
        result[key] = tensor.clone() if storage in seen else tensor.contiguous()
        seen.add(storage)
    return result


def main(argv: list[str] | None = None) -> int:
    """``sam3lib convert SAM3_PT OUT_DIR``; returns the process exit status."""
    parser = argparse.ArgumentParser(
        prog="sam3lib convert",
        description="Convert Meta's sam3.pt into a directory with model.safetensors and "
        "config.json that sam3lib and transformers load.",
    )
    parser.add_argument("checkpoint", type=Path, help="Meta's sam3.pt")
    parser.add_argument("out_dir", type=Path, help="directory to write (created if needed)")
    args = parser.parse_args(argv)
    try:
        out = convert_meta_checkpoint(args.checkpoint, args.out_dir)
    except Sam3Error as err:
        print(f"sam3lib convert: error: {err}", file=sys.stderr)
        return 1
    print(f"wrote {out / HUB_WEIGHTS_FILENAME} and {out / CONFIG_FILENAME}")
    return 0
