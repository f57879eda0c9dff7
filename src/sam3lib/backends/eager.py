"""Eager PyTorch in float32: the reference backend, and the one to pick on CPU.

:class:`TorchBackend` runs a :class:`~sam3lib.model.Sam3Model` in this process under
``torch.inference_mode``; its subclasses only choose the numerics of a call. Here that is plain
float32, with TF32 tensor-core matmuls and convolutions on CUDA when asked for (``tf32=True``).

Example:
    >>> from sam3lib.model import Sam3Config, Sam3Model
    >>> backend = EagerBackend(Sam3Model(Sam3Config.tiny()))
    >>> backend.precision, backend.device
    ('fp32', device(type='cpu'))
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any, Literal, TypeVar

import torch
from torch import Tensor

from sam3lib.backends.base import Precision, check_flag, check_options, check_prompt_chunk
from sam3lib.backends.heap import release_freed_heap
from sam3lib.backends.torch_compile import CompileMode, check_compile, entry_points
from sam3lib.checkpoint.loader import load_resolved_model
from sam3lib.checkpoint.resolve import ResolvedCheckpoint
from sam3lib.errors import InputError
from sam3lib.model import (
    ImageFeatures,
    InteractiveFeatures,
    InteractiveOutputs,
    Sam3Config,
    Sam3Model,
    Sam3Outputs,
    TextFeatures,
)

Features = TypeVar(
    "Features", ImageFeatures, TextFeatures, Sam3Outputs, InteractiveFeatures, InteractiveOutputs
)


class TorchBackend:
    """A :class:`Sam3Model` run by PyTorch in this process; subclasses set the numerics.

    Holds no per-call state, so one instance serves several threads at once (inference mode
    and autocast are thread-local in PyTorch). Every floating output is float32.

    ``prompt_chunk`` bounds how many prompts one decode pass runs; more are decoded in chunks.
    By default 1 on the CPU, where a batch of prompts only adds memory traffic (full size, 8
    prompts: 23.9 s one at a time, 32.5 s as one batch: ``benchmarks/decode_prompt_chunks.py``),
    and no bound on GPUs, which gain from batches.

    ``compile`` runs the model's entry points under ``torch.compile`` (see
    :mod:`sam3lib.backends.torch_compile`): ``True`` for the default mode, or a mode's name.
    """

    name: str
    precision: Precision
    device: torch.device
    config: Sam3Config

    def __init__(
        self,
        model: Sam3Model,
        precision: Precision,
        prompt_chunk: int | None = None,
        compile: bool | CompileMode | None = False,
    ) -> None:
        self.model = model.eval()
        self.precision = precision
        self.device = next(model.parameters()).device
        self.config = model.config
        self.prompt_chunk = check_prompt_chunk(prompt_chunk, self.device)
        self.compile_mode = check_compile(compile, self.device)
        self._calls = entry_points(self.model, self.compile_mode)

    def _numerics(self) -> AbstractContextManager[object]:
        """The context a call runs in, besides inference mode (autocast, TF32 flags...)."""
        return nullcontext()

    def encode_image(self, pixels: Tensor) -> ImageFeatures:
        """(B, 3, S, S) float32 normalised pixels -> image features (see ``Sam3Model``)."""
        with torch.inference_mode(), self._numerics():
            features = as_float32(self._calls.encode_image(pixels))
        self._release_freed_memory()
        return features

    def encode_text(self, token_ids: Tensor, attention_mask: Tensor) -> TextFeatures:
        """(N, L) int64 token ids and (N, L) bool mask -> prompt features."""
        with torch.inference_mode(), self._numerics():
            features = as_float32(self._calls.encode_text(token_ids, attention_mask))
        self._release_freed_memory()
        return features

    def _release_freed_memory(self) -> None:
        """After an encoder's many large temporaries: on CPU the C allocator keeps them
        (see :mod:`sam3lib.backends.heap`); the decode that follows peaks on top of them."""
        if self.device.type == "cpu":
            release_freed_heap()

    def decode(
        self,
        image: ImageFeatures,
        text: TextFeatures,
        boxes_cxcywh: Tensor | None = None,
        box_labels: Tensor | None = None,
        box_mask: Tensor | None = None,
    ) -> Sam3Outputs:
        """Raw detector outputs, float32; arguments as in :meth:`Sam3Model.decode`."""
        prompts, chunk = text.features.shape[0], self.prompt_chunk
        with torch.inference_mode(), self._numerics():
            if chunk is None or prompts <= chunk or image.batch_size != 1:
                outputs = self._calls.decode(image, text, boxes_cxcywh, box_labels, box_mask)
                return as_float32(outputs)
            parts = [
                as_float32(
                    self._calls.decode(
                        image,
                        TextFeatures(text.features[rows], text.mask[rows]),
                        *(_prompt_rows(t, rows) for t in (boxes_cxcywh, box_labels, box_mask)),
                    )
                )
                for rows in (slice(start, start + chunk) for start in range(0, prompts, chunk))
            ]
            return Sam3Outputs(*(torch.cat(field) for field in zip(*parts, strict=True)))

    def encode_interactive(self, backbone: Tensor) -> InteractiveFeatures:
        """Trunk output -> the interactive head's features (see ``Sam3Model``)."""
        with torch.inference_mode(), self._numerics():
            return as_float32(self._calls.encode_interactive(backbone))

    def decode_interactive(
        self,
        features: InteractiveFeatures,
        point_coords: Tensor,
        point_labels: Tensor,
        mask_input: Tensor,
        has_mask_input: Tensor,
    ) -> InteractiveOutputs:
        """Raw interactive-head outputs, float32; arguments as in
        :meth:`Sam3Model.decode_interactive`."""
        with torch.inference_mode(), self._numerics():
            outputs = self._calls.decode_interactive(
                features, point_coords, point_labels, mask_input, has_mask_input
            )
            return as_float32(outputs)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(device={self.device}, precision={self.precision!r})"


class EagerBackend(TorchBackend):
    """Float32 eager PyTorch; optionally TF32 on CUDA.

    Args:
        model: a float32 model, on the device it should run on.
        tf32: let CUDA matmuls and convolutions use TF32 tensor cores (10-bit mantissa inputs,
            fp32 accumulation; several times faster on Ampere and later). CUDA only. Without it
            they run in full fp32, whatever the process-wide PyTorch settings say.
        prompt_chunk: most prompts per decode pass (see :class:`TorchBackend`).
        compile: run under ``torch.compile`` (see :class:`TorchBackend`).

    Raises:
        InputError: the model is not float32, ``tf32`` is asked for off CUDA, or an unknown
            compile mode.
        BackendUnavailableError: ``compile`` on a machine that cannot compile for the device.

    Example:
        >>> model = Sam3Model.from_pretrained("facebook/sam3", device="cuda")  # doctest: +SKIP
        >>> backend = EagerBackend(model, tf32=True)  # doctest: +SKIP
        >>> features = backend.encode_image(pixels)  # doctest: +SKIP
    """

    name = "eager"

    def __init__(
        self,
        model: Sam3Model,
        *,
        tf32: bool = False,
        prompt_chunk: int | None = None,
        compile: bool | CompileMode | None = False,
    ) -> None:
        check_tf32(tf32, next(model.parameters()).device)
        low = sorted({str(p.dtype) for p in model.parameters() if p.dtype != torch.float32})
        if low:
            raise InputError(
                f"backend 'eager' runs float32 weights; this model has {', '.join(low)} ones "
                "(use AmpBackend / backend='amp' for fp16 or bf16)"
            )
        super().__init__(model, "fp32", prompt_chunk, compile)
        self.tf32 = tf32

    def _numerics(self) -> AbstractContextManager[object]:
        if self.device.type != "cuda":
            return nullcontext()
        return CUDA_FP32_PRECISION.hold("tf32" if self.tf32 else "ieee")

    def __repr__(self) -> str:
        return (
            f"EagerBackend(device={self.device}, tf32={self.tf32}, "
            f"compile_mode={self.compile_mode!r})"
        )


def create(
    checkpoint: ResolvedCheckpoint, *, device: torch.device, precision: Precision, **options: Any
) -> EagerBackend:
    """The registry's entry point (see :func:`sam3lib.backends.create_backend`).

    Options: ``tf32`` (bool, CUDA only), ``prompt_chunk``, ``compile``, ``resolution`` (input
    size, see :meth:`Sam3Config.at_resolution`). Arguments are checked
    before the weights are loaded.
    """
    check_options("eager", options, ("tf32", "prompt_chunk", "compile", "resolution"))
    if precision != "fp32":
        raise InputError(
            f"precision: backend 'eager' runs fp32 only; got {precision!r} "
            "(use backend='amp' for fp16 or bf16)"
        )
    tf32 = options.get("tf32", False)
    check_tf32(tf32, device)
    prompt_chunk = check_prompt_chunk(options.get("prompt_chunk"), device)
    compile_mode = check_compile(options.get("compile", False), device)
    model = load_resolved_model(checkpoint, device=device, resolution=options.get("resolution"))
    return EagerBackend(model, tf32=tf32, prompt_chunk=prompt_chunk, compile=compile_mode)


def _prompt_rows(tensor: Tensor | None, rows: slice) -> Tensor | None:
    """``tensor``'s rows for a chunk of prompts; batch-1 tensors broadcast, so stay whole."""
    return tensor if tensor is None or tensor.shape[0] == 1 else tensor[rows]


def check_tf32(tf32: object, device: torch.device) -> None:
    """Raise an :class:`InputError` unless ``tf32`` is a bool, and False off CUDA."""
    if check_flag("tf32", tf32) and device.type != "cuda":
        raise InputError(f"tf32: TF32 exists on CUDA devices only; this backend runs on {device}")


def as_float32(outputs: Features) -> Features:
    """The same NamedTuple with every floating tensor in float32 (no copy if it already is)."""
    return type(outputs)._make(t.float() if t.is_floating_point() else t for t in outputs)


Fp32Mode = Literal["ieee", "tf32"]


class _CudaFp32Precision:
    """Holds cuBLAS matmuls and cuDNN convolutions at one fp32 mode while calls run.

    PyTorch 2.13 has no thread-local or scoped TF32 switch: ``torch.backends.cuda.matmul`` and
    ``torch.backends.cudnn.conv`` ``fp32_precision`` are process-global (and cuDNN convolutions
    default to TF32). So calls share the flags: those wanting the mode in force join it, one
    wanting the other mode waits until they finish, and the last to leave restores the values
    found on entry. Other code in the process sees the mode while our calls run.
    """

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._mode: Fp32Mode | None = None
        self._holders = 0
        self._saved = ("none", "none")

    @contextmanager
    def hold(self, mode: Fp32Mode) -> Iterator[None]:
        matmul = torch.backends.cuda.matmul
        conv = torch.backends.cudnn.conv  # type: ignore[attr-defined]  # not in torch's stubs
        with self._condition:
            self._condition.wait_for(lambda: self._holders == 0 or self._mode == mode)
            if self._holders == 0:
                # The per-operation settings of the new API, the ones PyTorch >= 2.9 reads.
                self._saved = (matmul.fp32_precision, conv.fp32_precision)
                matmul.fp32_precision = conv.fp32_precision = mode
                self._mode = mode
            self._holders += 1
        try:
            yield
        finally:
            with self._condition:
                self._holders -= 1
                if self._holders == 0:
                    matmul.fp32_precision, conv.fp32_precision = self._saved
                    self._mode = None
                    self._condition.notify_all()


# One per process, like the flags it guards.
CUDA_FP32_PRECISION = _CudaFp32Precision()
