"""Read a checkpoint file into a state dict of owned tensors, with typed errors.

Every tensor is read straight into memory PyTorch allocated for it (its own storage, 64-byte
aligned), not memory-mapped: GEMM kernels take other code paths, rounding differently in the
last bits, for operands at unaligned addresses, and a weight that is a view into a mapped file
sits wherever the file put it. Reading file pages into owned tensors also keeps the peak at one
copy of the weights, where copying out of a mapping would count the mapped pages too.

``.safetensors`` files are parsed here (an 8-byte header length, a JSON header of dtypes, shapes
and byte ranges, then the data) and each tensor is read into a fresh tensor; ``.pt``/``.pth``
files are read with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import io
import json
import math
import pickle
from collections.abc import Mapping
from pathlib import Path

import torch
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

_SAFETENSORS_DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}
# safetensors itself refuses headers above 100 MB; a larger length means a damaged file.
_MAX_SAFETENSORS_HEADER = 100_000_000


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
    size = path.stat().st_size
    header_length = int.from_bytes(head[:8], "little")
    if header_length > min(size - 8, _MAX_SAFETENSORS_HEADER):
        raise _damaged(path, f"its header claims {header_length} bytes of a {size}-byte file")
    with path.open("rb", buffering=0) as file:
        file.seek(8)
        header = _parse_safetensors_header(file.read(header_length), path)
        data_start = 8 + header_length
        tensors = {}
        for name, (dtype, shape, begin, end) in header.items():
            if data_start + end > size:
                raise _damaged(path, f"{name} ends past the end of the file")
            tensor = torch.empty(shape, dtype=dtype)
            tensors[name] = _read_into(tensor, file, data_start + begin, path)
    return tensors


def _parse_safetensors_header(
    raw: bytes, path: Path
) -> dict[str, tuple[torch.dtype, list[int], int, int]]:
    """Each tensor's dtype, shape and byte range (relative to the data), checked for sense."""
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise _damaged(path, f"its header is not JSON: {err}") from err
    if not isinstance(header, dict):
        raise _damaged(path, "its header is not a JSON object")
    header.pop("__metadata__", None)
    entries = {}
    for name, entry in header.items():
        try:
            dtype = _SAFETENSORS_DTYPES[entry["dtype"]]
            shape = [int(n) for n in entry["shape"]]
            begin, end = (int(n) for n in entry["data_offsets"])
        except (KeyError, TypeError, ValueError) as err:
            raise _damaged(path, f"its entry for {name!r} is malformed ({err!r})") from err
        nbytes = math.prod(shape) * torch.empty((), dtype=dtype).element_size()
        if min(shape, default=0) < 0 or begin < 0 or end - begin != nbytes:
            raise _damaged(path, f"{name!r} has shape {shape} but bytes {begin}..{end}")
        entries[name] = (dtype, shape, begin, end)
    return entries


def _read_into(tensor: Tensor, file: io.FileIO, offset: int, path: Path) -> Tensor:
    """Fill ``tensor`` with the bytes at ``offset``; a raw file may return short reads."""
    buffer = tensor.reshape(-1).view(torch.uint8).numpy().data
    file.seek(offset)
    filled = 0
    while filled < len(buffer):
        count = file.readinto(buffer[filled:])
        if not count:
            raise _damaged(path, f"it ended {len(buffer) - filled} bytes early while being read")
        filled += count
    return tensor


def _damaged(path: Path, why: str) -> CorruptCheckpointError:
    return CorruptCheckpointError(
        f"{path} is truncated or damaged ({why}); download or convert it again"
    )


def _read_torch(path: Path) -> dict[str, Tensor]:
    with path.open("rb") as file:
        magic = file.read(len(_ZIP_MAGIC))
    if magic != _ZIP_MAGIC and not magic.startswith(_PICKLE_MAGIC):
        raise NotASam3CheckpointError(
            f"{path} is not a PyTorch checkpoint (no zip or pickle header)"
        )
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
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
