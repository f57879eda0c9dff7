"""Short random clips for the video tests."""

from __future__ import annotations

import torch


def random_clip(
    num_frames: int, size: tuple[int, int] = (60, 80), seed: int = 0
) -> list[torch.Tensor]:
    """``num_frames`` random (3, H, W) uint8 frames."""
    generator = torch.Generator().manual_seed(seed)
    return [
        torch.randint(0, 256, (3, *size), dtype=torch.uint8, generator=generator)
        for _ in range(num_frames)
    ]
