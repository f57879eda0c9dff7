"""Fixtures of the Segmenter tests: one fp32 Segmenter on the tiny checkpoint, test images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from sam3lib import Segmenter


@pytest.fixture(scope="session")
def segmenter(tiny_checkpoint_dir: Path) -> Segmenter:
    return Segmenter.from_pretrained(tiny_checkpoint_dir)


@pytest.fixture(scope="session")
def photo() -> npt.NDArray[np.uint8]:
    """A 190 x 250 RGB image: smooth shapes plus noise, so features vary across the image."""
    rows, cols = np.mgrid[0:190, 0:250]
    rng = np.random.default_rng(7)
    red = 255 * ((rows - 60) ** 2 + (cols - 80) ** 2 < 40**2)
    green = 255 * ((abs(rows - 120) < 30) & (abs(cols - 180) < 45))
    blue = (rows + cols) % 256
    image = np.stack([red, green, blue], axis=-1) + rng.integers(0, 40, (190, 250, 3))
    return np.clip(image, 0, 255).astype(np.uint8)
