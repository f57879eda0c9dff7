"""Random prompts for the interactive decoder, any number of objects and points (0 included)."""

from __future__ import annotations

import torch

from sam3lib.model import Sam3Config


def random_object_prompts(
    objects: int, points: int, config: Sam3Config | None = None
) -> dict[str, torch.Tensor]:
    """``Sam3Model.decode_interactive``'s prompt arguments for ``objects`` rows of ``points``
    points: points of every label (box corners 2 and 3, clicks 1 and 0, padding -1) anywhere
    in the model's frame, mask logits, and a mask on every other object. The same sizes give
    the same values."""
    vision = (config or Sam3Config.tiny()).vision
    side = 4 * vision.grid_size
    generator = torch.Generator().manual_seed(10 * objects + points)
    return {
        "point_coords": torch.rand(objects, points, 2, generator=generator) * vision.image_size,
        "point_labels": torch.randint(-1, 4, (objects, points), generator=generator),
        "mask_input": torch.randn(objects, 1, side, side, generator=generator) * 4,
        "has_mask_input": torch.arange(objects) % 2 == 0,
    }
