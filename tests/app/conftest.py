"""Fixtures of the demo tests: the tiny model and a sample picture."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from sam3lib import Segmenter
from sam3lib.app.samples import sample_image

# The tiny random-weight model scores everything around 0.2: a low threshold finds instances.
THRESHOLD = 0.1


@pytest.fixture(scope="session")
def segmenter(tiny_checkpoint_dir: Path) -> Segmenter:
    return Segmenter.from_pretrained(tiny_checkpoint_dir)


@pytest.fixture(scope="session")
def street() -> npt.NDArray[np.uint8]:
    return sample_image("toy street")
