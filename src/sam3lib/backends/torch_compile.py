"""The ``compile`` option of the torch backends: the model's entry points under ``torch.compile``.

Each of ``encode_image``, ``encode_text`` and ``decode`` becomes one compiled function, built on
its first call (about 90 s for the full-size image encoder on the 2-core CPU) and again for each
new input shape, up to PyTorch's recompile limit. Inductor fuses the elementwise work around the
matmuls (norms, activations, residual sums, RoPE) and, on CUDA, cuts the per-kernel launch cost
that dominates small batches. On the CPU the full-size image encoder is matmul-bound and ran at
the eager speed (``python benchmarks/compile_speed.py``, docs/benchmarks.md). Inductor writes C++
on the CPU, so needs a C++ compiler there, and Triton kernels on CUDA.

Example:
    >>> from sam3lib.model import Sam3Config, Sam3Model
    >>> calls = entry_points(Sam3Model(Sam3Config.tiny()), compile_mode=None)
    >>> calls.encode_image.__name__
    'encode_image'
"""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, get_args

import torch

from sam3lib.errors import BackendUnavailableError, InputError
from sam3lib.model import (
    ImageFeatures,
    InteractiveFeatures,
    InteractiveOutputs,
    Sam3Model,
    Sam3Outputs,
    TextFeatures,
)

# Modes that capture CUDA graphs ("reduce-overhead", "max-autotune") are left out: a graph's
# outputs are overwritten by its next replay, and a backend's outputs (image features, cached
# text features, decoded chunks) must outlive the call that made them.
CompileMode = Literal["default", "max-autotune-no-cudagraphs"]
COMPILE_MODES: tuple[str, ...] = get_args(CompileMode)


@dataclass(frozen=True)
class EntryPoints:
    """The calls a torch backend makes: the model's own methods, or compiled ones."""

    encode_image: Callable[[torch.Tensor], ImageFeatures]
    encode_text: Callable[[torch.Tensor, torch.Tensor], TextFeatures]
    decode: Callable[..., Sam3Outputs]
    encode_interactive: Callable[[torch.Tensor], InteractiveFeatures]
    decode_interactive: Callable[..., InteractiveOutputs]


def entry_points(model: Sam3Model, compile_mode: CompileMode | None) -> EntryPoints:
    """``model``'s entry points, each under ``torch.compile(mode=compile_mode)`` unless None."""
    calls = (
        model.encode_image,
        model.encode_text,
        model.decode,
        model.encode_interactive,
        model.decode_interactive,
    )
    if compile_mode is None:
        return EntryPoints(*calls)
    # Compiled lazily, on first call: a model without the interactive head raises then, as
    # eagerly, and the decoder compiles only for users who click.
    compiled: list[Any] = [torch.compile(call, mode=compile_mode) for call in calls]
    return EntryPoints(*compiled)


def check_compile(value: object, device: torch.device) -> CompileMode | None:
    """The compile mode asked for: ``False``/``None`` off, ``True`` the default mode, or a
    mode's name; checked before any weight is loaded.

    Raises:
        InputError: not a bool, None or a known mode.
        BackendUnavailableError: this machine cannot compile for ``device`` (no C++ compiler
            for the CPU, no Triton for CUDA).
    """
    if value is None or value is False:
        return None
    if value is True:
        mode: CompileMode = "default"
    elif isinstance(value, str) and value in COMPILE_MODES:
        mode = value  # type: ignore[assignment]  # narrowed by the membership test
    else:
        raise InputError(
            f"compile: expected True, False or one of {', '.join(COMPILE_MODES)}; got {value!r}"
        )
    _check_toolchain(device)
    return mode


def _check_toolchain(device: torch.device) -> None:
    if device.type == "cpu":
        from torch._inductor import config  # the compiler inductor will call (from $CXX)

        compilers = [name for name in config.cpp.cxx if name]
        if not any(shutil.which(name) for name in compilers):
            raise BackendUnavailableError(
                f"compile: torch.compile builds C++ kernels on the CPU with "
                f"{' or '.join(compilers) or 'a C++ compiler'}, which is not on PATH; install "
                "one (e.g. apt install g++), point $CXX at a C++ compiler before importing "
                "torch, or leave compile off"
            )
    elif device.type == "cuda" and importlib.util.find_spec("triton") is None:
        raise BackendUnavailableError(
            "compile: torch.compile builds Triton kernels on CUDA and triton is not installed "
            "(pip install triton, the version your torch names), or leave compile off"
        )
