"""schemathesis against the server's own OpenAPI schema: documented statuses, never a 500.

Requests are generated from ``/openapi.json`` (positive and negative data, both request
bodies) and sent to the FastAPI app served by uvicorn on a loopback port, with the tiny
model behind it.
Most segment requests carry a real PNG in place of the generated ``image`` and a prompt
where they have none, so that generated options reach the model rather than
stopping at the image or prompt checks.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import schemathesis
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from fuzz.budget import examples
from helpers.serving import serving_app
from sam3lib import Segmenter
from sam3lib.server.app import create_app
from sam3lib.server.limits import ServerLimits


def _png(height: int, width: int) -> bytes:
    pixels = np.random.default_rng(5).integers(0, 256, (height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


PNG_BYTES = _png(24, 32)
PNG = base64.b64encode(PNG_BYTES).decode("ascii")


@pytest.fixture(scope="module")
def app_schema(tiny_checkpoint_dir: Path) -> Iterator[Any]:
    """The schema of a live server on a loopback port (one lifespan for the whole module)."""
    segmenter = Segmenter.from_pretrained(tiny_checkpoint_dir)
    limits = ServerLimits(max_request_bytes=1 << 20, max_image_pixels=64 * 64, max_prompts=4)
    app = create_app(segmenter, model_name="tiny", limits=limits)
    with serving_app(app) as url:
        yield schemathesis.openapi.from_url(f"{url}/openapi.json")


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def _call_and_validate(case: Any, real_image: bool, prompt: str | None) -> None:
    """Sends ``case``, its image replaced by a real one, and a prompt added where it has none."""
    if case.operation.path == "/v1/segment" and isinstance(case.body, dict):
        if real_image:
            case.body["image"] = PNG if case.media_type == "application/json" else PNG_BYTES
        if prompt is not None and not case.body.get("prompts"):
            case.body["prompts"] = [prompt]
    case.call_and_validate(checks=CHECKS)


# schemathesis' own pytest integration (schema.parametrize with a fixture) reads a node
# attribute pytest 9 dropped, and its in-process ASGI transport runs the app's lifespan once
# per request; its strategies run under plain hypothesis against a live server instead.
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_request_gets_a_documented_answer(app_schema: Any, mode: GenerationMode) -> None:
    @examples(40)
    @given(
        app_schema.as_strategy(mode),
        st.sampled_from([True, True, True, False]),
        st.sampled_from([None, "cat", "red car"]),
    )
    def requests_answered(case: Any, real_image: bool, prompt: str | None) -> None:
        _call_and_validate(case, real_image, prompt)

    requests_answered()
