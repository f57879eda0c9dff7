"""The contract every execution backend fulfils, and the checks they share.

A backend runs SAM 3's three entry points (``encode_image``, ``encode_text``, ``decode``) the
way :class:`sam3lib.model.Sam3Model` defines them, on some engine (eager PyTorch, autocast,
ONNX Runtime, TensorRT) in some precision. Whatever it computes in, it hands back float32
tensors, so post-processing and the :class:`~sam3lib.Segmenter` never see a precision.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Literal, Protocol, get_args, runtime_checkable

import torch
from torch import Tensor

from sam3lib.errors import InputError
from sam3lib.model.config import Sam3Config
from sam3lib.model.outputs import (
    ImageFeatures,
    InteractiveFeatures,
    InteractiveOutputs,
    Sam3Outputs,
    TextFeatures,
)

Precision = Literal["fp32", "fp16", "bf16"]
PRECISIONS: tuple[Precision, ...] = get_args(Precision)


@runtime_checkable
class Backend(Protocol):
    """What the Segmenter needs from an engine: the model's entry points.

    Implementations must be safe to call from several threads at once (no per-call state on
    the object) and must return float32 tensors on :attr:`device`.
    """

    name: str  #: registry name, e.g. ``"eager"``
    precision: Precision  #: the precision the engine computes in
    device: torch.device  #: where inputs are expected and outputs are returned
    config: Sam3Config  #: sizes of the model the engine runs

    def encode_image(self, pixels: Tensor) -> ImageFeatures:
        """(B, 3, S, S) float32 normalised pixels -> image features."""
        ...

    def encode_text(self, token_ids: Tensor, attention_mask: Tensor) -> TextFeatures:
        """(N, L) int64 token ids and (N, L) bool mask -> prompt features."""
        ...

    def decode(
        self,
        image: ImageFeatures,
        text: TextFeatures,
        boxes_cxcywh: Tensor | None = None,
        box_labels: Tensor | None = None,
        box_mask: Tensor | None = None,
    ) -> Sam3Outputs:
        """Raw detector outputs, float32; batches broadcast as in ``Sam3Model.decode``."""
        ...

    def encode_interactive(self, backbone: Tensor) -> InteractiveFeatures:
        """(B, C_vit, G, G) trunk output (``ImageFeatures.backbone``) -> the interactive
        head's features, float32; raises ``InteractiveUnavailableError`` without the head."""
        ...

    def decode_interactive(
        self,
        features: InteractiveFeatures,
        point_coords: Tensor,
        point_labels: Tensor,
        mask_input: Tensor,
        has_mask_input: Tensor,
    ) -> InteractiveOutputs:
        """Raw interactive-head outputs, float32, as ``Sam3Model.decode_interactive``."""
        ...


def check_options(backend: str, options: Mapping[str, object], known: Collection[str]) -> None:
    """Raise an :class:`InputError` naming every option ``backend`` does not take."""
    unknown = sorted(set(options) - set(known))
    if unknown:
        accepted = ", ".join(sorted(known)) or "none"
        raise InputError(
            f"backend {backend!r} does not take the option(s) {', '.join(unknown)} "
            f"(it accepts: {accepted})"
        )


def check_flag(option: str, value: object) -> bool:
    """``value`` if it is a bool, else an :class:`InputError` naming ``option``."""
    if not isinstance(value, bool):
        raise InputError(f"{option}: expected True or False, got {value!r}")
    return value


def check_prompt_chunk(prompt_chunk: object, device: torch.device) -> int | None:
    """The prompts per decode pass: ``prompt_chunk`` if a positive int; by default (None) 1 on
    the CPU and unbounded (None) elsewhere."""
    if prompt_chunk is None:
        return 1 if device.type == "cpu" else None
    if isinstance(prompt_chunk, bool) or not isinstance(prompt_chunk, int) or prompt_chunk < 1:
        raise InputError(f"prompt_chunk: expected a positive integer or None, got {prompt_chunk!r}")
    return prompt_chunk


def check_precision(precision: object) -> Precision:
    """``precision`` as a :data:`Precision`, or an :class:`InputError` listing the choices."""
    if precision not in PRECISIONS:
        raise InputError(f"precision: expected one of {', '.join(PRECISIONS)}; got {precision!r}")
    return precision


def resolve_device(device: str | torch.device) -> torch.device:
    """Parse ``device`` and check that this machine has it.

    Raises:
        InputError: not a device name, or a CUDA/MPS device this machine does not have.

    Example:
        >>> resolve_device("cpu")
        device(type='cpu')
    """
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError) as error:
        raise InputError(
            f"device: not a torch device: {device!r} (try 'cpu', 'cuda' or 'cuda:1')"
        ) from error
    if resolved.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = resolved.index or 0
        if index >= count:
            raise InputError(
                f"device: {device!r} is not available here ({count} CUDA device(s)); "
                "use device='cpu'"
            )
    elif resolved.type == "mps" and not torch.backends.mps.is_available():
        raise InputError(f"device: {device!r} is not available here; use device='cpu'")
    elif resolved.type not in ("cpu", "cuda", "mps"):
        raise InputError(f"device: {device!r} is not supported; use 'cpu' or 'cuda'")
    return resolved
