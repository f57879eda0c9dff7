"""Execution backends behind one protocol, found by name.

Each backend lives in its own module, which exposes ``create(checkpoint, *, device,
precision, **options) -> Backend``. Adding a backend means adding that module and one line in
:data:`BACKEND_MODULES`; the Segmenter does not change.

Example:
    >>> from sam3lib.backends import create_backend  # doctest: +SKIP
    >>> backend = create_backend("amp", resolved, device="cuda", precision="bf16")  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import Any

import torch

from sam3lib.backends.base import (
    PRECISIONS,
    Backend,
    Precision,
    check_precision,
    resolve_device,
)
from sam3lib.checkpoint.resolve import ResolvedCheckpoint
from sam3lib.errors import InputError

# Imported lazily, so optional engines (onnxruntime, tensorrt) cost nothing until chosen.
BACKEND_MODULES: dict[str, str] = {
    "eager": "sam3lib.backends.eager",
    "amp": "sam3lib.backends.amp",
}

__all__ = [
    "BACKEND_MODULES",
    "PRECISIONS",
    "Backend",
    "Precision",
    "check_precision",
    "create_backend",
    "default_backend",
    "resolve_device",
]


def default_backend(precision: Precision) -> str:
    """The backend that runs ``precision`` when none is named: eager fp32, else autocast."""
    return "eager" if precision == "fp32" else "amp"


def create_backend(
    name: str,
    checkpoint: ResolvedCheckpoint,
    *,
    device: str | torch.device = "cpu",
    precision: Precision = "fp32",
    **options: Any,
) -> Backend:
    """Build the backend called ``name`` for a checkpoint whose files are local.

    Raises:
        InputError: unknown backend, precision or device, or an option the backend rejects.
        CheckpointError: the checkpoint cannot be loaded.
    """
    if name not in BACKEND_MODULES:
        raise InputError(
            f"backend: expected one of {', '.join(sorted(BACKEND_MODULES))}; got {name!r}"
        )
    module = importlib.import_module(BACKEND_MODULES[name])
    backend: Backend = module.create(
        checkpoint,
        device=resolve_device(device),
        precision=check_precision(precision),
        **options,
    )
    return backend
