"""Fixtures of the HTTP API tests: the tiny model, test pictures as files, result checks."""

from __future__ import annotations

import base64
import io
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from sam3lib import SegmentationResult, Segmenter
from sam3lib.formats import decode_rle
from sam3lib.server.jsonlog import JsonLineFormatter

# The tiny random-weight model scores everything around 0.2: a low threshold finds instances.
THRESHOLD = 0.1


@pytest.fixture(scope="session")
def segmenter(tiny_checkpoint_dir: Path) -> Segmenter:
    return Segmenter.from_pretrained(tiny_checkpoint_dir)


def picture(height: int, width: int, seed: int) -> npt.NDArray[np.uint8]:
    """An RGB picture: a disk and a rectangle over a gradient, plus noise."""
    rows, cols = np.mgrid[0:height, 0:width]
    rng = np.random.default_rng(seed)
    red = 255 * ((rows - height / 3) ** 2 + (cols - width / 3) ** 2 < (height / 5) ** 2)
    green = 255 * ((abs(rows - 0.6 * height) < height / 6) & (abs(cols - 0.7 * width) < width / 6))
    blue = (rows + cols) % 256
    image = np.stack([red, green, blue], axis=-1) + rng.integers(0, 40, (height, width, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


def png_bytes(pixels: npt.NDArray[np.uint8]) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="session")
def photo_png() -> bytes:
    """A 190 x 250 PNG file's bytes."""
    return png_bytes(picture(190, 250, seed=7))


def json_request(image: bytes, **options: Any) -> dict[str, Any]:
    return {"image": base64.b64encode(image).decode("ascii"), **options}


def assert_same_results(
    got: Sequence[dict[str, Any]], want: Sequence[SegmentationResult], mask_format: str = "rle"
) -> None:
    """The server's results equal ``Segmenter.segment``'s: scores, boxes, labels, masks."""
    assert len(got) == len(want)
    for answer, result in zip(got, want, strict=True):
        assert answer["prompt"] == result.prompt
        assert answer["image_size"] == list(result.image_size)
        instances = answer["instances"]
        assert [i["label"] for i in instances] == [result.label] * len(result)
        np.testing.assert_allclose([i["score"] for i in instances], result.scores, atol=1e-5)
        boxes = np.array([i["box"] for i in instances], dtype=np.float64).reshape(-1, 4)
        np.testing.assert_allclose(boxes, result.boxes, atol=1e-5)
        assert [i["area"] for i in instances] == result.areas.tolist()
        masks = [decode_mask(i["segmentation"], mask_format) for i in instances]
        np.testing.assert_array_equal(np.array(masks).reshape(result.masks.shape), result.masks)


def decode_mask(segmentation: Any, mask_format: str) -> npt.NDArray[np.bool_]:
    if mask_format == "png":
        with Image.open(io.BytesIO(base64.b64decode(segmentation))) as image:
            return np.array(image).astype(bool)
    return decode_rle(segmentation)


@contextmanager
def captured_log(
    name: str, level: int = logging.INFO
) -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """The logger ``name`` writing JSON lines into a string from ``level`` on, until exit."""
    stream = io.StringIO()
    logger = logging.getLogger(name)
    logger.setLevel(level)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonLineFormatter())
    logger.addHandler(handler)
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)
