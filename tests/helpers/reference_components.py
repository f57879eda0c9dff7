"""A slow, obviously correct connected-components labeller, the reference for ours."""

from __future__ import annotations

from collections import deque

import numpy as np
import numpy.typing as npt


def component_areas_8(pixels: npt.NDArray[np.bool_]) -> npt.NDArray[np.int64]:
    """Area of the 8-connected component of each True pixel (0 elsewhere): a plain BFS,
    independent of sam3lib's connected components."""
    height, width = pixels.shape
    areas = np.zeros((height, width), dtype=np.int64)
    seen = np.zeros_like(pixels)
    for y in range(height):
        for x in range(width):
            if not pixels[y, x] or seen[y, x]:
                continue
            queue, members = deque([(y, x)]), []
            seen[y, x] = True
            while queue:
                cy, cx = queue.popleft()
                members.append((cy, cx))
                for dy in (-1, 0, 1):
                    for dx in (-1, 0, 1):
                        ny, nx = cy + dy, cx + dx
                        inside = 0 <= ny < height and 0 <= nx < width
                        if inside and pixels[ny, nx] and not seen[ny, nx]:
                            seen[ny, nx] = True
                            queue.append((ny, nx))
            for cy, cx in members:
                areas[cy, cx] = len(members)
    return areas
