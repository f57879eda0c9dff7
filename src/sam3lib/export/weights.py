"""A fingerprint of a model's weights, independent of the file they came from.

The same weights read from ``model.safetensors`` or Meta's ``sam3.pt`` give the same hash, so
exports and TensorRT engines are matched to weights, not to file names or modification times.
"""

from __future__ import annotations

import hashlib

import torch
from torch import nn


def weights_sha256(model: nn.Module) -> str:
    """SHA-256 over every tensor of ``model.state_dict()``: name, dtype, shape, then bytes.

    Example:
        >>> from sam3lib.model import Sam3Config, Sam3Model
        >>> len(weights_sha256(Sam3Model(Sam3Config.tiny())))
        64
    """
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(f"{name}|{tensor.dtype}|{tuple(tensor.shape)}\n".encode())
        # Bytes through a uint8 view: no copy, and dtypes numpy lacks (bfloat16) work too.
        flat = tensor.detach().to("cpu").contiguous().reshape(-1).view(torch.uint8)
        digest.update(memoryview(flat.numpy()))
    return digest.hexdigest()
