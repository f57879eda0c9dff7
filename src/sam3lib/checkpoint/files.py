"""Read a checkpoint file into a state dict of memory-mapped tensors, with typed errors.

``.safetensors`` files are memory-mapped by ``safetensors``; ``.pt``/``.pth`` files are read with
``torch.load(weights_only=True)``, memory-mapped when in PyTorch's zip format (every file
``torch.save`` has written since 1.6). Pages are read from disk only when a tensor is used, so
reading costs no memory until the weights are placed in the model.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from pathlib import Path

import safetensors.torch
import torch
from safetensors import SafetensorError
from torch import Tensor

from sam3lib.checkpoint._keys import describe_keys
from sam3lib.errors import CheckpointError, CorruptCheckpointError, NotASam3CheckpointError

SAFETENSORS_SUFFIXES = (".safetensors",)
TORCH_SUFFIXES = (".pt", ".pth")
WEIGHT_SUFFIXES = SAFETENSORS_SUFFIXES + TORCH_SUFFIXES

_ZIP_MAGIC = b"PK\x03\x04"
_PICKLE_MAGIC = b"\x80"  # protocol 2+ marker, the start of PyTorch's pre-1.6 format
# torch.load's message when weights_only refuses an object; the only way to tell that refusal
# from a damaged pickle, which raises the same exception type.
_WEIGHTS_ONLY_REFUSAL = "Weights only load failed"


def read_state_dict(path: Path) -> dict[str, Tensor]:
    """The tensors of a ``.safetensors``, ``.pt`` or ``.pth`` file, keyed as stored.

    A ``.pt`` holding ``{"model": state_dict, ...}`` (Meta's training format) is unwrapped.

    Raises:
        CheckpointError: if the file is missing or its suffix is not one of the above.
        NotASam3CheckpointError: if the file is not a checkpoint, or holds something other
            than a mapping of names to tensors.
        CorruptCheckpointError: if the file is truncated or damaged.

    Example:
        >>> state_dict = read_state_dict(Path("sam3.pt"))  # doctest: +SKIP
    """
    if not path.is_file():
        raise CheckpointError(f"checkpoint file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix in SAFETENSORS_SUFFIXES:
        return _read_safetensors(path)
    if suffix in TORCH_SUFFIXES:
        return _read_torch(path)
    raise CheckpointError(
        f"{path} has an unsupported suffix {suffix!r}; expected one of {', '.join(WEIGHT_SUFFIXES)}"
    )


def _read_safetensors(path: Path) -> dict[str, Tensor]:
    # A safetensors file starts with an 8-byte header length, then the header, a JSON object.
    with path.open("rb") as file:
        head = file.read(9)
    if len(head) < 9:
        raise CorruptCheckpointError(f"{path} is {len(head)} bytes long: empty or truncated")
    if head[8:9] != b"{":
        raise NotASam3CheckpointError(f"{path} is not a safetensors file (it has no JSON header)")
    try:
        return safetensors.torch.load_file(path)
    except SafetensorError as err:
        raise CorruptCheckpointError(
            f"{path} is truncated or damaged ({err}); download or convert it again"
        ) from err


def _read_torch(path: Path) -> dict[str, Tensor]:
    with path.open("rb") as file:
        magic = file.read(len(_ZIP_MAGIC))
    is_zip = magic == _ZIP_MAGIC
    if not is_zip and not magic.startswith(_PICKLE_MAGIC):
        raise NotASam3CheckpointError(
            f"{path} is not a PyTorch checkpoint (no zip or pickle header)"
        )
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True, mmap=is_zip)
    except pickle.UnpicklingError as err:
        if _WEIGHTS_ONLY_REFUSAL not in str(err):
            raise CorruptCheckpointError(f"{path} is truncated or damaged: {err}") from err
        raise NotASam3CheckpointError(
            f"{path} holds Python objects other than tensors, which torch.load(weights_only=True) "
            "refuses to unpickle because that could run arbitrary code. A SAM 3 checkpoint is a "
            "plain state dict; if you trust this file, re-save just its tensors with "
            "torch.save(state_dict, path)."
        ) from err
    except (RuntimeError, OSError, EOFError, ValueError) as err:
        raise CorruptCheckpointError(
            f"{path} is truncated or damaged ({err}); download it again"
        ) from err
    return _as_state_dict(loaded, path)


def _as_state_dict(loaded: object, path: Path) -> dict[str, Tensor]:
    if isinstance(loaded, Mapping) and isinstance(loaded.get("model"), Mapping):
        loaded = loaded["model"]
    if not isinstance(loaded, Mapping):
        raise NotASam3CheckpointError(
            f"{path} holds a {type(loaded).__name__}, not a state dict of tensors"
        )
    not_tensors = [str(key) for key, value in loaded.items() if not isinstance(value, Tensor)]
    if not_tensors:
        raise NotASam3CheckpointError(
            f"{path} is not a state dict: these entries are not tensors:\n"
            f"{describe_keys(not_tensors)}"
        )
    return {str(key): value for key, value in loaded.items()}
