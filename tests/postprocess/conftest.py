"""Fixtures for the post-processing tests: devices and an independent flood-fill labeller."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import pytest
import torch

Labeller = Callable[[torch.Tensor, int], torch.Tensor]

# The CPU always; a GPU too where the machine has one.
DEVICES = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])


@pytest.fixture(params=DEVICES, ids=str)
def device(request: pytest.FixtureRequest) -> torch.device:
    return request.param


def _flood_fill_labels(mask: torch.Tensor, connectivity: int) -> torch.Tensor:
    """Breadth-first flood fill of one (H, W) bool mask, scanning seeds in raster order.

    Labels follow the convention connected_components documents: 1 + the raster index of the
    component's first pixel; background 0.
    """
    height, width = mask.shape
    pixels = mask.tolist()
    labels = [[0] * width for _ in range(height)]
    steps = [(0, 1), (1, 0), (0, -1), (-1, 0)]
    if connectivity == 8:
        steps += [(1, 1), (1, -1), (-1, 1), (-1, -1)]
    for y in range(height):
        for x in range(width):
            if not pixels[y][x] or labels[y][x]:
                continue
            label = 1 + y * width + x
            labels[y][x] = label
            queue = deque([(y, x)])
            while queue:
                row, column = queue.popleft()
                for dy, dx in steps:
                    ny, nx = row + dy, column + dx
                    if (
                        0 <= ny < height
                        and 0 <= nx < width
                        and pixels[ny][nx]
                        and not labels[ny][nx]
                    ):
                        labels[ny][nx] = label
                        queue.append((ny, nx))
    return torch.tensor(labels, dtype=torch.int64)


@pytest.fixture
def flood_fill_labels() -> Labeller:
    """The reference labeller, for one (H, W) mask at a time."""
    return _flood_fill_labels
