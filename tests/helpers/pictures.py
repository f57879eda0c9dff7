"""A synthetic picture with regions and edges, for precision comparisons.

iid noise pixels through random weights give mask logits that are spatial white noise around 0
(median |logit| ≈ 0.2 on the tiny model), so nearly every pixel sits on a mask boundary and any
rounding flips it. Flat regions with edges give masks with boundaries, as a photo does.
"""

from __future__ import annotations

import torch


def regions_picture(size: int) -> torch.Tensor:
    """Normalised (1, 3, size, size) pixels: a disk and a rectangle on a flat background."""
    y, x = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    image = torch.tensor([-0.6, -0.2, 0.3])[:, None, None].repeat(1, size, size)
    disk = (x - 0.36 * size) ** 2 + (y - 0.42 * size) ** 2 < (0.21 * size) ** 2
    rectangle = (x > 0.57 * size) & (x < 0.89 * size) & (y > 0.18 * size) & (y < 0.71 * size)
    image[:, disk] = torch.tensor([0.8, 0.1, -0.5])[:, None]
    image[:, rectangle] = torch.tensor([-0.3, 0.7, 0.6])[:, None]
    return image[None]
