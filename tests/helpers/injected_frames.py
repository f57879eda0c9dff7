"""A frame encoder that hands out given tracker features instead of running the model: how
the session-level parity tests give our click tracker the same per-frame features as the
references' feature caches (transformers' ``cache_vision_features``, Meta's
``cached_features``)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import Tensor

from sam3lib.model.interactive import InteractiveHead
from sam3lib.video.frame_encoder import EncodedFrame, FrameEncoder
from sam3lib.video.tracker_step import TrackerFrameFeatures


class InjectedFeatures(FrameEncoder):
    """Frame ``t`` is ``frames[t]``; ``model_size``: the model's input side (video pixels
    are model pixels when the clip has that size)."""

    def __init__(
        self, head: InteractiveHead, frames: list[TrackerFrameFeatures], model_size: int
    ) -> None:
        self.head = head
        self.model_size = model_size
        self.mask_size = frames[0].high_res_x4.shape[-1]
        self.features = frames

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    @contextlib.contextmanager
    def running(self) -> Iterator[None]:
        with torch.inference_mode():
            yield

    def encode(self, index: int, rgb: Tensor) -> EncodedFrame:
        size = (int(rgb.shape[1]), int(rgb.shape[2]))
        return EncodedFrame(index, size, None, self.features[index])  # type: ignore[arg-type]
