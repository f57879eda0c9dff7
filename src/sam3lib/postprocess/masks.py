"""Low-resolution mask logits -> binary masks at the image's size.

The two reference implementations binarise in a different order, and the results differ along
mask edges (sigmoid is not linear, so it does not commute with interpolation):

- Meta: bilinear interpolation of the **logits**, then sigmoid, then ``> mask_threshold``;
- transformers: sigmoid first, then bilinear interpolation of the probabilities, then
  ``> mask_threshold``.

sam3lib follows Meta by default, since the weights were trained with Meta's code, and offers
the transformers order bit for bit for comparisons.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

import torch
import torch.nn.functional as F

from sam3lib.errors import InputError
from sam3lib.postprocess._checks import (
    check_float_tensor,
    check_int,
    check_size,
    check_unit_interval,
)
from sam3lib.postprocess._chunks import CHUNK_PIXELS, chunks

__all__ = ["MaskOrder", "upsample_masks"]

MaskOrder: TypeAlias = Literal["meta", "transformers"]

_ORDERS: tuple[MaskOrder, ...] = ("meta", "transformers")


def upsample_masks(
    mask_logits: torch.Tensor,
    size: tuple[int, int],
    *,
    mask_threshold: float = 0.5,
    order: MaskOrder = "meta",
    max_chunk_pixels: int = CHUNK_PIXELS,
) -> torch.Tensor:
    """Resizes mask logits to ``size`` (bilinear, ``align_corners=False``) and binarises them.

    Masks are processed a chunk at a time, a chunk holding at most ``max_chunk_pixels`` output
    floats (but at least one mask): 200 float masks at 1008² would take about 0.8 GB at once.
    Bilinear interpolation treats each mask on its own, so chunking changes no value.

    Args:
        mask_logits: (N, h, w) float mask logits, e.g. the 288² output of the mask head.
        size: (H, W) of the output, the original image size.
        mask_threshold: probability threshold in [0, 1]: a pixel is in the mask when its
            probability is strictly greater.
        order: ``"meta"`` (default): interpolate the logits in float32, then sigmoid, then
            threshold. ``"transformers"``: sigmoid, interpolate, threshold, in the input's
            dtype: bit-equal to transformers' ``post_process_instance_segmentation``.
        max_chunk_pixels: the most output floats one chunk may hold.

    Returns:
        (N, H, W) bool masks on the device of ``mask_logits``.

    Raises:
        InputError: an argument has the wrong type, shape or value.

    Example:
        >>> logits = torch.tensor([[[-4.0, 4.0], [-4.0, 4.0]]])
        >>> upsample_masks(logits, (2, 4)).int().tolist()
        [[[0, 0, 1, 1], [0, 0, 1, 1]]]
    """
    check_float_tensor(mask_logits, "mask_logits", 3, "(N, h, w)")
    if mask_logits.shape[1] == 0 or mask_logits.shape[2] == 0:
        raise InputError(f"mask_logits: h and w must be positive, got {tuple(mask_logits.shape)}")
    height, width = check_size(size, "size")
    threshold = check_unit_interval(mask_threshold, "mask_threshold")
    if order not in _ORDERS:
        raise InputError(f"order: expected one of {_ORDERS}, got {order!r}")
    check_int(max_chunk_pixels, "max_chunk_pixels", 1)

    count = mask_logits.shape[0]
    masks = torch.empty((count, height, width), dtype=torch.bool, device=mask_logits.device)
    for chunk in chunks(count, height * width, max_chunk_pixels):
        logits = mask_logits[chunk]
        if order == "meta":
            probabilities = _resize(logits.to(torch.float32), height, width).sigmoid_()
        else:
            probabilities = _resize(logits.sigmoid(), height, width)
        torch.gt(probabilities, threshold, out=masks[chunk])
    return masks


def _resize(maps: torch.Tensor, height: int, width: int) -> torch.Tensor:
    # (1, N, h, w), the layout transformers uses: each mask is a channel of one image.
    resized = F.interpolate(
        maps.unsqueeze(0), size=(height, width), mode="bilinear", align_corners=False
    )
    return resized.squeeze(0)
