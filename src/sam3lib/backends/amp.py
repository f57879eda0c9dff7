"""Automatic mixed precision: the model under ``torch.autocast`` in fp16 or bf16.

Autocast runs linears, matmuls, convolutions and attention in the low dtype; attention kernels
accumulate their softmax in fp32, and CUDA autocast keeps LayerNorm, GroupNorm and softmax in
fp32 by itself. The model's fp32 islands (:func:`sam3lib.model.layers.full_precision`) cover the
rest, on every device: norm layers (CPU autocast would leave them in bf16), box refinement, the
presence head and the dot-product scoring; RoPE and sine tables are built in fp32. Outputs are
cast to float32, so post-processing never sees a low dtype. See ``docs/backends.md``.

``cast_weights=True`` also stores the weights in the low dtype, halving their memory, except
norm layers and the fp32 islands (see :func:`sam3lib.model.layers.fp32_modules`); autocast
still reconciles the dtypes where they meet.

Example:
    >>> from sam3lib.model import Sam3Config, Sam3Model
    >>> backend = AmpBackend(Sam3Model(Sam3Config.tiny()), precision="bf16")
    >>> backend.precision
    'bf16'
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Any

import torch
from torch import nn

from sam3lib.backends.base import (
    Precision,
    check_flag,
    check_options,
    check_precision,
    check_prompt_chunk,
)
from sam3lib.backends.eager import TorchBackend
from sam3lib.backends.torch_compile import CompileMode, check_compile
from sam3lib.checkpoint.loader import load_resolved_model
from sam3lib.checkpoint.resolve import ResolvedCheckpoint
from sam3lib.errors import InputError
from sam3lib.model import Sam3Model
from sam3lib.model.layers import fp32_modules

DTYPES: dict[Precision, torch.dtype] = {"fp16": torch.float16, "bf16": torch.bfloat16}


class AmpBackend(TorchBackend):
    """The model under ``torch.autocast``: bf16 or fp16 on CUDA, bf16 on CPU.

    Args:
        model: a model with float32 weights, on the device it should run on.
        precision: ``"bf16"`` or ``"fp16"`` (CUDA only).
        cast_weights: cast the weights once, in place, to the low dtype (norm layers and fp32
            islands excepted): about half the weight memory, and no per-call weight casts.
            ``model`` then runs only under autocast, as this backend runs it.
        prompt_chunk: most prompts per decode pass (see :class:`TorchBackend`).
        compile: run under ``torch.compile`` (see :class:`TorchBackend`).

    Raises:
        InputError: fp32 (use :class:`~sam3lib.backends.eager.EagerBackend`), fp16 off CUDA,
            a model whose norm layers or fp32 islands are not float32, or an unknown compile
            mode.
        BackendUnavailableError: ``compile`` on a machine that cannot compile for the device.

    Example:
        >>> model = Sam3Model.from_pretrained("facebook/sam3", device="cuda")  # doctest: +SKIP
        >>> backend = AmpBackend(model, precision="bf16", cast_weights=True)  # doctest: +SKIP
        >>> outputs = backend.decode(backend.encode_image(pixels), text)  # doctest: +SKIP
    """

    name = "amp"

    def __init__(
        self,
        model: Sam3Model,
        *,
        precision: Precision = "bf16",
        cast_weights: bool = False,
        prompt_chunk: int | None = None,
        compile: bool | CompileMode | None = False,
    ) -> None:
        device = next(model.parameters()).device
        super().__init__(model, check_amp_precision(precision, device), prompt_chunk, compile)
        self.dtype = DTYPES[self.precision]
        self.cast_weights = check_flag("cast_weights", cast_weights)
        _check_fp32_islands(model)
        if cast_weights:
            cast_to_low_precision(model, self.dtype)

    def _numerics(self) -> AbstractContextManager[object]:
        return torch.autocast(self.device.type, dtype=self.dtype)

    def __repr__(self) -> str:
        return (
            f"AmpBackend(device={self.device}, precision={self.precision!r}, "
            f"cast_weights={self.cast_weights}, compile_mode={self.compile_mode!r})"
        )


def create(
    checkpoint: ResolvedCheckpoint, *, device: torch.device, precision: Precision, **options: Any
) -> AmpBackend:
    """The registry's entry point (see :func:`sam3lib.backends.create_backend`).

    Options: ``cast_weights`` (bool), ``prompt_chunk``, ``compile``, ``resolution``. Arguments
    are checked
    before the weights are loaded. With ``cast_weights`` the weights are cast on the CPU, so the
    device never holds an fp32 copy.
    """
    check_options("amp", options, ("cast_weights", "prompt_chunk", "compile", "resolution"))
    check_amp_precision(precision, device)
    prompt_chunk = check_prompt_chunk(options.get("prompt_chunk"), device)
    compile_mode = check_compile(options.get("compile", False), device)
    if not check_flag("cast_weights", options.get("cast_weights", False)):
        model = load_resolved_model(checkpoint, device=device, resolution=options.get("resolution"))
        return AmpBackend(
            model, precision=precision, prompt_chunk=prompt_chunk, compile=compile_mode
        )
    model = load_resolved_model(checkpoint, device="cpu", resolution=options.get("resolution"))
    cast_to_low_precision(model, DTYPES[precision])
    return AmpBackend(
        model.to(device),
        precision=precision,
        cast_weights=True,
        prompt_chunk=prompt_chunk,
        compile=compile_mode,
    )


def check_amp_precision(precision: object, device: torch.device) -> Precision:
    """``precision`` if autocast can run it on ``device``, else an :class:`InputError`."""
    checked = check_precision(precision)
    if checked == "fp32":
        raise InputError("precision: backend 'amp' runs fp16 or bf16; for fp32 use backend='eager'")
    if checked == "fp16" and device.type == "cpu":
        raise InputError(
            "precision: fp16 autocast needs a GPU; on CPU use precision='bf16' "
            "(or fp32 with backend='eager', faster on CPUs without native bf16)"
        )
    return checked


def cast_to_low_precision(model: nn.Module, dtype: torch.dtype) -> None:
    """Cast floating parameters to ``dtype`` in place, except norms and fp32 islands."""
    keep = {id(p) for module in fp32_modules(model) for p in module.parameters()}
    for module in model.modules():
        for name, param in list(module.named_parameters(recurse=False)):
            if id(param) not in keep and param.is_floating_point():
                setattr(module, name, nn.Parameter(param.detach().to(dtype), requires_grad=False))


def _check_fp32_islands(model: nn.Module) -> None:
    """The islands compute with autocast off, so their weights must already be float32."""
    low = {
        str(p.dtype)
        for module in fp32_modules(model)
        for p in module.parameters()
        if p.dtype != torch.float32
    }
    if low:
        raise InputError(
            f"backend 'amp' needs float32 norm and fp32-island weights; this model has "
            f"{', '.join(sorted(low))} ones (load it in float32; cast_weights=True halves the "
            "memory of the rest)"
        )
