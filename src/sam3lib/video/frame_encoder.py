"""Video frames through the model: one ViT pass per frame feeds both the concept detector and
the tracker's own neck (Meta runs the shared trunk once per frame too).

Video needs the model's modules (the tracker step calls the head's parts one by one), so it
runs on an in-process PyTorch backend (``eager`` or ``amp``); the exported engines hold only
the image entry points.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch

from sam3lib.backends import Backend
from sam3lib.backends.eager import TorchBackend
from sam3lib.errors import InputError, InteractiveUnavailableError
from sam3lib.model.interactive import InteractiveHead
from sam3lib.model.outputs import ImageFeatures
from sam3lib.preprocess import preprocess
from sam3lib.video.tracker_step import TrackerFrameFeatures, tracker_frame_features

__all__ = ["EncodedFrame", "FrameEncoder"]


@dataclass(frozen=True)
class EncodedFrame:
    """One frame ready for the detector and the tracker."""

    index: int  #: position in the video
    size: tuple[int, int]  #: (H, W) of the frame
    image: ImageFeatures  #: the detector's features (batch 1)
    tracker: TrackerFrameFeatures  #: the tracker neck's features (batch 1)


class FrameEncoder:
    """Encodes frames with a PyTorch backend's model and runs its tracker head.

    Args:
        backend: an ``eager`` or ``amp`` backend whose checkpoint has the tracker head and its
            video memory (a full SAM 3 checkpoint).

    Raises:
        InputError: an exported engine (ONNX Runtime, TensorRT) was given.
        InteractiveUnavailableError: the checkpoint lacks the tracker head or its memory.
    """

    def __init__(self, backend: Backend) -> None:
        if not isinstance(backend, TorchBackend):
            raise InputError(
                f"video tracking runs the tracker's modules in PyTorch: load the Segmenter with "
                f"backend='eager' or 'amp', not {backend.name!r}"
            )
        config = backend.model.config
        if config.tracker is None or config.video is None:
            raise InteractiveUnavailableError(
                "this checkpoint has no tracker memory (memory encoder and attention): it "
                "cannot track objects through a video; load a full SAM 3 checkpoint "
                "(e.g. facebook/sam3 or Meta's sam3.pt)"
            )
        if config.tracker.hidden_size % config.video.memory_channels:
            raise InteractiveUnavailableError(
                f"this checkpoint's tracker width {config.tracker.hidden_size} is not a multiple "
                f"of its {config.video.memory_channels} memory channels, so an object pointer "
                "cannot be split into memory tokens: it cannot track (neither could Meta's code)"
            )
        self.backend = backend
        self.head: InteractiveHead = backend.model.tracker_model
        self.model_size = config.vision.image_size
        self.mask_size = 4 * config.vision.grid_size

    @property
    def device(self) -> torch.device:
        return self.backend.device

    @contextmanager
    def running(self) -> Iterator[None]:
        """The context every model call of a video runs in: inference mode and the
        backend's numerics (autocast for ``amp``)."""
        with torch.inference_mode(), self.backend._numerics():
            yield

    def encode(self, index: int, rgb: torch.Tensor) -> EncodedFrame:
        """A (3, H, W) uint8 frame -> its :class:`EncodedFrame`."""
        prepared = preprocess(rgb, self.model_size, self.device)
        image = self.backend.encode_image(prepared.pixels)
        with self.running():
            neck = self.backend.model.tracker_neck(image.backbone)
            tracker = tracker_frame_features(self.head, neck)
        return EncodedFrame(index, prepared.original_size, image, _float32(tracker))


def _float32(features: TrackerFrameFeatures) -> TrackerFrameFeatures:
    return TrackerFrameFeatures(*(part.float() for part in features))
