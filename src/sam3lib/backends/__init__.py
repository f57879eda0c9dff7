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
import importlib.util
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
    "onnxruntime": "sam3lib.backends.onnx_runtime",
    "tensorrt": "sam3lib.backends.tensorrt",
}

# What an optional engine needs: the package it imports, and whether it runs on the CPU.
ENGINE_REQUIREMENTS: dict[str, tuple[str, bool]] = {
    "onnxruntime": ("onnxruntime", True),
    "tensorrt": ("tensorrt", False),
}

__all__ = [
    "BACKEND_MODULES",
    "ENGINE_REQUIREMENTS",
    "PRECISIONS",
    "Backend",
    "Precision",
    "available_backends",
    "check_precision",
    "create_backend",
    "default_backend",
    "resolve_device",
]


def available_backends(device: str | torch.device = "cpu") -> list[str]:
    """Registered backends whose engine is installed and runs on ``device``, without importing
    any engine (a CUDA build of onnxruntime may still lack the CUDA provider: it says so when
    chosen).

    Example:
        >>> {"eager", "amp"} <= set(available_backends("cpu"))
        True
    """
    on_cpu = torch.device(device).type == "cpu"
    usable = []
    for name in sorted(BACKEND_MODULES):
        package, runs_on_cpu = ENGINE_REQUIREMENTS.get(name, ("", True))
        if package and importlib.util.find_spec(package) is None:
            continue
        if on_cpu and not runs_on_cpu:
            continue
        usable.append(name)
    return usable


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
