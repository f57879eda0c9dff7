"""Fixtures of the labelling tests: folders of small generated pictures, and damaged files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

# The tiny random-weight model scores everything around 0.2: a low threshold finds instances.
THRESHOLD = 0.1
PROMPTS = ["cat", "red car"]


def write_pictures(directory: Path, count: int, *, seed: int = 0, nested: bool = False) -> None:
    """``count`` small pictures (smooth shapes plus noise, sizes varying), JPEG and PNG mixed;
    with ``nested``, every third one in a subdirectory."""
    rng = np.random.default_rng(seed)
    for index in range(count):
        height, width = 48 + 4 * (index % 5), 64 + 3 * (index % 7)
        rows, cols = np.mgrid[0:height, 0:width]
        centre = rng.integers(10, 40, size=2)
        disk = (rows - centre[0]) ** 2 + (cols - centre[1]) ** 2 < 15**2
        picture = rng.integers(0, 60, (height, width, 3)) + 180 * disk[..., None] * [1, 0.2, 0.1]
        folder = directory / "more" if nested and index % 3 == 2 else directory
        folder.mkdir(parents=True, exist_ok=True)
        suffix = ".png" if index % 2 else ".jpg"
        Image.fromarray(picture.clip(0, 255).astype(np.uint8)).save(
            folder / f"p{index:03d}{suffix}"
        )


def write_bad_files(directory: Path) -> dict[str, str]:
    """Files that are not usable images, by name, with a word their error must contain."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "zero.png").write_bytes(b"")
    (directory / "notes.jpg").write_text("this is not a picture")
    good = directory / "whole.jpg"
    Image.fromarray(np.full((40, 50, 3), 90, np.uint8)).save(good)
    (directory / "truncated.jpg").write_bytes(good.read_bytes()[:200])
    good.unlink()
    Image.fromarray(np.zeros((300, 400, 3), np.uint8)).save(directory / "huge.png")
    return {
        "zero.png": "empty",
        "notes.jpg": "could not read",
        "truncated.jpg": "could not read",
        "huge.png": "max_pixels",
    }


@pytest.fixture
def pictures(tmp_path: Path) -> Path:
    directory = tmp_path / "pictures"
    write_pictures(directory, 8, nested=True)
    return directory
