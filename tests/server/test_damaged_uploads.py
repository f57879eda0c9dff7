"""Damaged or oversized image uploads: a 4xx JSON error with a message, never a 500."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from conftest import json_request
from sam3lib import Segmenter
from sam3lib.server.app import create_app
from sam3lib.server.limits import ServerLimits


@pytest.fixture(scope="module")
def client(segmenter: Segmenter) -> Iterator[TestClient]:
    # Pillow's own bomb limit (about 179 million pixels) is below ours here, so it is the one hit.
    limits = ServerLimits(max_image_pixels=10**9)
    with TestClient(create_app(segmenter, model_name="tiny", limits=limits)) as test_client:
        yield test_client


def qoi_cut_inside_its_header() -> bytes:
    """A QOI file cut after 13 of its 14 header bytes: it opens, decoding raises IndexError."""
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (10, 20, 30)).save(buffer, format="QOI")
    return buffer.getvalue()[:13]


def png_bomb() -> bytes:
    """A PNG file claiming 20000 x 20000 pixels, with no pixel data."""
    header = struct.pack(">IIBBBBB", 20_000, 20_000, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", b"") + _chunk(b"IEND", b"")
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@pytest.mark.parametrize(
    ("upload", "status", "message"),
    [
        (qoi_cut_inside_its_header, 422, "image: the file is damaged or truncated"),
        (png_bomb, 413, "image: over the limit"),
    ],
    ids=["qoi cut inside its header", "decompression bomb"],
)
def test_damaged_upload_gets_a_4xx_json_error(
    client: TestClient, upload: Callable[[], bytes], status: int, message: str
) -> None:
    response = client.post("/v1/segment", json=json_request(upload(), prompts=["cat"]))
    assert response.status_code == status, response.text
    data = response.json()
    assert message in data["detail"]
    assert data["request_id"] == response.headers["X-Request-ID"]
