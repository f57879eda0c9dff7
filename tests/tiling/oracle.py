"""A segmenter whose answers are known: every bright blob of a tile is one instance.

SAM 3 with random weights finds nothing meaningful, so the tiling tests need a stand-in whose
per-tile answer can be worked out from the pixels: :class:`PixelBackend` encodes a tile by
keeping its pixels (the model input is the tile's own size, so resizing leaves them as they
are) and :func:`decode_blobs` returns each 8-connected blob of bright pixels as an
instance. The untiled answer is the same rule applied to the whole image
(:func:`blobs`), so a tiled run can be compared with it pixel for pixel. Everything between
(cutting, encoding, mapping back, matching, merging) is the real tiling code.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import numpy.typing as npt
import torch
from scipy import ndimage

from sam3lib.embedding import ImageEmbedding
from sam3lib.model.outputs import ImageFeatures
from sam3lib.prompts import Exemplars
from sam3lib.result import SegmentationResult

EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)
DARK = 40  # background may be noise up to this value: it is no object


class PixelBackend:
    """Encodes a tile as its own pixels (what ``segment_tiles`` needs of a backend)."""

    def __init__(self, input_size: int) -> None:
        self.config = SimpleNamespace(vision=SimpleNamespace(image_size=input_size))
        self.device = torch.device("cpu")
        self.encoded = 0

    def encode_image(self, pixels: torch.Tensor) -> ImageFeatures:
        self.encoded += pixels.shape[0]
        return ImageFeatures(pixels, pixels, pixels, pixels, pixels, pixels)


def blobs(rgb: npt.NDArray[np.uint8]) -> list[npt.NDArray[np.bool_]]:
    """Each 8-connected blob of bright pixels (a channel above :data:`DARK`) of an (H, W, 3)
    image, as a full-size mask."""
    labels, count = ndimage.label(rgb.max(axis=2) > DARK, structure=EIGHT_CONNECTED)
    return [labels == label for label in range(1, count + 1)]


def decode_blobs(
    embedding: ImageEmbedding, exemplars: Exemplars | None
) -> list[SegmentationResult]:
    """One result ("blob"): each blob of the tile, scored by its mean brightness."""
    normalised = embedding.features.backbone[0]
    rgb = ((normalised * 0.5 + 0.5) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    masks = blobs(rgb)
    boxes, scores = [], []
    for mask in masks:
        rows, columns = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
        boxes.append([columns[0], rows[0], columns[-1] + 1, rows[-1] + 1])
        scores.append(rgb[mask].mean() / 255)
    height, width = embedding.original_size
    return [
        SegmentationResult(
            masks=np.array(masks, dtype=bool).reshape(-1, height, width),
            boxes=np.array(boxes, dtype=np.float32).reshape(-1, 4),
            scores=np.array(scores, dtype=np.float32),
            prompt="blob",
            image_size=(height, width),
            timings={"decode": 0.0},
        )
    ]
