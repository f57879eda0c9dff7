"""The demo's models: one shared Segmenter per (backend, precision), loaded when first chosen.

The demo starts with the model it was given; picking another precision loads the checkpoint
again with that precision, once, and keeps it for every later request. Every model runs at the
first one's input size (``sam3lib app --resolution``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import torch

from sam3lib.backends import (
    PRECISIONS,
    Precision,
    available_backends,
    check_precision,
    default_backend,
)
from sam3lib.errors import InputError
from sam3lib.segmenter import Segmenter

AUTO = "auto"  # the backend the library picks for the precision


def machine_precisions(device: torch.device) -> list[Precision]:
    """Precisions worth offering on ``device``: fp16 autocast needs a GPU.

    Example:
        >>> machine_precisions(torch.device("cpu"))
        ['fp32', 'bf16']
    """
    return [precision for precision in PRECISIONS if precision != "fp16" or device.type != "cpu"]


class ModelPool:
    """Segmenters of one checkpoint, one per (backend, precision), loaded once and shared.

    Args:
        first: the model the demo starts with.
        source: its checkpoint, to load other precisions from (at ``first``'s input size);
            ``None`` offers ``first`` only.
        load: how to load one (``Segmenter.from_pretrained``'s signature).

    Example:
        >>> pool = ModelPool(seg, source="facebook/sam3")  # doctest: +SKIP
        >>> pool.get("auto", "bf16").backend.name  # doctest: +SKIP
        'amp'
    """

    def __init__(
        self,
        first: Segmenter,
        *,
        source: str | None = None,
        load: Callable[..., Segmenter] = Segmenter.from_pretrained,
    ) -> None:
        self.first = first
        self.source = source
        self.device = first.device
        self._load = load
        self._models: dict[tuple[str, str], Segmenter] = {_key(first): first}
        self._lock = threading.Lock()

    @property
    def precisions(self) -> list[Precision]:
        """The precisions users may pick."""
        if self.source is None:
            return [self.first.backend.precision]
        return machine_precisions(self.device)

    @property
    def backends(self) -> list[str]:
        """``"auto"`` and the backends users may pick."""
        return [AUTO] if self.source is None else [AUTO, *available_backends(self.device)]

    def get(self, backend: str, precision: str) -> Segmenter:
        """The Segmenter for ``backend`` (or ``"auto"``) and ``precision``, loading it once.

        Raises:
            InputError: a choice not offered, or one the backend refuses (the message says
                why, e.g. fp16 on a CPU).
        """
        if precision not in self.precisions or backend not in self.backends:
            raise InputError(f"{backend} / {precision} is not available here")
        checked = check_precision(precision)
        name = default_backend(checked) if backend == AUTO else backend
        with self._lock:  # one load at a time: a second click waits instead of loading twice
            model = self._models.get((name, checked))
            if model is None:
                if self.source is None:
                    raise InputError(f"{name} / {checked} is not available here")
                options: dict[str, Any] = {
                    "device": self.device,
                    "backend": name,
                    # An export takes its own size only, and that is first's: accepted.
                    "resolution": self.first.backend.config.vision.image_size,
                }
                model = self._load(self.source, precision=checked, **options)
                model.translator = self.first.translator  # every model translates alike
                self._models[(name, checked)] = model
            return model


def model_title(segmenter: Segmenter) -> str:
    """``"fp32 · eager · cpu · 1008 px"``: what a model runs as, and at which input size.

    Example:
        >>> model_title(seg)  # doctest: +SKIP
        'fp32 · eager · cpu · 1008 px'
    """
    backend = segmenter.backend
    size = backend.config.vision.image_size
    return f"{backend.precision} · {backend.name} · {segmenter.device} · {size} px"


def _key(segmenter: Segmenter) -> tuple[str, str]:
    return segmenter.backend.name, segmenter.backend.precision
