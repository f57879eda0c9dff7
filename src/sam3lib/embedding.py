"""An image encoded once, for any number of prompts of every kind.

The detector's features are computed by :meth:`Segmenter.encode_image`; the interactive
head's (its own neck on the same ViT output) only when a click or box first needs them, then
kept with the embedding, so that later clicks on the same image cost only the decoder.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import torch

from sam3lib.backends import Backend
from sam3lib.model.outputs import ImageFeatures, InteractiveFeatures
from sam3lib.preprocess import normalize

__all__ = ["ImageEmbedding", "encode_resized"]


@dataclass(frozen=True, eq=False)
class ImageEmbedding:
    """An image encoded once, to be segmented with any number of prompts.

    Attributes:
        features: the backend's image features (batch 1).
        original_size: (height, width) of the image, as displayed (EXIF orientation applied).
        timings: seconds spent preprocessing and encoding.
    """

    features: ImageFeatures
    original_size: tuple[int, int]
    timings: dict[str, float] = field(default_factory=dict)
    backend: Backend | None = field(default=None, repr=False)
    _interactive: _LazyInteractiveFeatures = field(
        default_factory=lambda: _LazyInteractiveFeatures(), repr=False
    )

    def interactive_features(self, timings: dict[str, float] | None = None) -> InteractiveFeatures:
        """The interactive head's features of this image: computed on the first call (the
        seconds it took are added to ``timings`` under ``"encode_interactive"``), then reused.

        Raises:
            InteractiveUnavailableError: the checkpoint has no interactive head.
        """
        if self.backend is None:
            raise RuntimeError("this ImageEmbedding has no backend to compute features with")
        return self._interactive.get(self.backend, self.features, timings)


def encode_resized(
    backend: Backend,
    resized: Sequence[torch.Tensor],
    original_sizes: Sequence[tuple[int, int]],
    timings: Sequence[Mapping[str, float]] | None = None,
) -> list[ImageEmbedding]:
    """Encode images already resized to the model input in one call of the backend.

    Args:
        backend: the engine.
        resized: (3, S, S) uint8 images (:func:`sam3lib.preprocess.resize_uint8`).
        original_sizes: (H, W) of each image before resizing.
        timings: per image, stages already timed (e.g. loading); each embedding's timings
            add ``"encode_image"``, the batch's time shared equally.

    Returns:
        One embedding per image, in order.
    """
    started = time.perf_counter()
    device = backend.device
    pixels = torch.stack([normalize(image.to(device)) for image in resized])
    with torch.inference_mode():
        features = backend.encode_image(pixels)
    if device.type == "cuda":  # asynchronous: time the work, not the launch
        torch.cuda.synchronize(device)
    share = (time.perf_counter() - started) / len(resized)
    before = timings if timings is not None else [{} for _ in resized]
    return [
        ImageEmbedding(
            ImageFeatures(*(tensor[position : position + 1] for tensor in features)),
            size,
            {**stages, "encode_image": share},
            backend,
        )
        for position, (size, stages) in enumerate(zip(original_sizes, before, strict=True))
    ]


class _LazyInteractiveFeatures:
    """Computes the interactive features once, even when several threads ask at once."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._features: InteractiveFeatures | None = None

    def get(
        self, backend: Backend, features: ImageFeatures, timings: dict[str, float] | None
    ) -> InteractiveFeatures:
        with self._lock:
            if self._features is None:
                started = time.perf_counter()
                self._features = backend.encode_interactive(features.backbone)
                if backend.device.type == "cuda":  # asynchronous: time the work, not the launch
                    torch.cuda.synchronize(backend.device)
                if timings is not None:
                    timings["encode_interactive"] = time.perf_counter() - started
            return self._features
