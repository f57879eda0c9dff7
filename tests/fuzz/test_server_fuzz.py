"""Any request body, content type or form reaches a parsed request or a typed 4xx ApiError.

The parsing functions of ``sam3lib.server.requests`` are driven directly with ASGI requests
built here (no model, no network), so examples are cheap; the app as a whole is fuzzed from
its OpenAPI schema in ``test_server_schema_fuzz.py``.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from starlette.requests import Request

from fuzz.budget import examples
from sam3lib.server.errors import ApiError
from sam3lib.server.requests import (
    SegmentOptions,
    decode_base64_image,
    parse_segment_request,
    read_body,
)

LIMIT = 4096


def _request(headers: Sequence[tuple[str, str]], chunks: Sequence[bytes] = ()) -> Request:
    """A POST /v1/segment request whose body arrives in ``chunks``."""
    pending = list(chunks)

    async def receive() -> dict[str, Any]:
        body = pending.pop(0) if pending else b""
        return {"type": "http.request", "body": body, "more_body": bool(pending)}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/v1/segment",
        "headers": [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers],
        "query_string": b"",
    }
    return Request(scope, receive)


def _parse(content_type: str, body: bytes) -> tuple[bytes, SegmentOptions] | ApiError:
    request = _request([("content-type", content_type)], [body])
    try:
        return asyncio.run(parse_segment_request(request, body))
    except ApiError as error:
        return error


def _assert_typed(outcome: tuple[bytes, SegmentOptions] | ApiError) -> None:
    if isinstance(outcome, ApiError):
        assert outcome.status in (413, 415, 422) and outcome.message
    else:
        image, options = outcome
        assert isinstance(image, bytes) and isinstance(options, SegmentOptions)


# --- JSON bodies ---------------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner),
    max_leaves=12,
)
FIELDS = {
    "image": st.one_of(
        st.text(max_size=12),
        st.binary(max_size=12).map(lambda data: base64.b64encode(data).decode()),
        st.sampled_from(["data:image/png;base64,iVBORw0K", "data:,x", "data:x;base64,"]),
        JSON_VALUES,
    ),
    "prompts": st.one_of(st.lists(st.text(max_size=6), max_size=3), JSON_VALUES),
    "boxes": st.one_of(
        st.lists(st.lists(st.floats() | st.integers(), max_size=5), max_size=3), JSON_VALUES
    ),
    "box_labels": st.one_of(st.lists(st.integers(-1, 2), max_size=3), JSON_VALUES),
    "threshold": st.one_of(st.floats(), JSON_VALUES),
    "mask_threshold": st.floats(),
    "top_k": st.one_of(st.integers(), JSON_VALUES),
    "nms_iou": st.one_of(st.floats(), st.none()),
    "refine": st.one_of(st.integers(-1, 6), JSON_VALUES),
    "mask_format": st.one_of(
        st.sampled_from(["rle", "polygons", "png", "none", "jpg"]), JSON_VALUES
    ),
}
JSON_OBJECTS = st.fixed_dictionaries({}, optional=FIELDS) | st.dictionaries(
    st.text(max_size=6), JSON_VALUES, max_size=3
)
JSON_BODIES = st.one_of(
    JSON_OBJECTS.map(lambda data: json.dumps(data).encode()),  # NaN and Infinity included
    JSON_VALUES.map(lambda data: json.dumps(data).encode()),
    st.binary(max_size=40),
    st.text(max_size=40).map(lambda text: text.encode("utf-8", "surrogatepass")),
)
DEEP_JSON = b"[" * 100_000  # 100 kB: json.loads raised RecursionError, not ValueError


@examples(300)
@given(JSON_BODIES)
@example(DEEP_JSON)
@example(b'{"image": "aGk=", "boxes": ' + b"[" * 50_000 + b"]" * 50_000 + b"}")
def test_any_json_body_is_parsed_or_refused_with_a_4xx(body: bytes) -> None:
    _assert_typed(_parse("application/json", body))


# --- multipart forms -----------------------------------------------------------------------------

BOUNDARY = "fuzzboundary"
FIELD_NAMES = st.one_of(
    st.sampled_from([*FIELDS, "image"]), st.text(max_size=6).filter(lambda name: '"' not in name)
)


@st.composite
def multipart_bodies(draw: st.DrawFn) -> bytes:
    """A multipart body: text fields and file parts, sometimes mangled or cut short."""
    parts = []
    for _ in range(draw(st.integers(0, 5))):
        name = draw(FIELD_NAMES)
        if draw(st.booleans()):
            value = draw(st.binary(max_size=12))
            header = f'Content-Disposition: form-data; name="{name}"; filename="f.png"'
        else:
            value = draw(st.text(max_size=12)).encode("utf-8", "surrogatepass")
            header = f'Content-Disposition: form-data; name="{name}"'
        parts.append(f"--{BOUNDARY}\r\n{header}\r\n\r\n".encode() + value + b"\r\n")
    body = b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()
    mangle = draw(st.sampled_from(["none", "cut", "noise"]))
    if mangle == "cut":
        body = body[: draw(st.integers(0, len(body)))]
    elif mangle == "noise":
        body = draw(st.binary(max_size=60))
    return body


CONTENT_TYPES = st.one_of(
    st.just(f"multipart/form-data; boundary={BOUNDARY}"),
    st.sampled_from(
        [
            "multipart/form-data",
            "Multipart/Form-Data; boundary=",
            "application/JSON",
            "",
            "text/plain",
        ]
    ),
    st.text(max_size=20).filter(str.isascii),
)


@examples(300)
@given(CONTENT_TYPES, multipart_bodies() | JSON_BODIES)
def test_any_form_is_parsed_or_refused_with_a_4xx(content_type: str, body: bytes) -> None:
    _assert_typed(_parse(content_type, body))


# --- base64 images and body sizes ----------------------------------------------------------------


@examples(200)
@given(st.text(max_size=30) | st.binary(max_size=20).map(lambda d: base64.b64encode(d).decode()))
def test_base64_text_is_decoded_or_refused_with_a_422(text: str) -> None:
    try:
        data = decode_base64_image(text)
    except ApiError as error:
        assert error.status == 422
        return
    assert data


@examples(150)
@given(
    st.one_of(
        st.none(),
        st.integers(0, 10 * LIMIT).map(str),
        st.text(st.characters(max_codepoint=255), max_size=6),  # headers are latin-1
        st.sampled_from(["²", "\xb9", "-1", "1e3", " 12"]),
    ),
    st.lists(st.binary(max_size=LIMIT), max_size=6),
)
@example("²", [b"x"])  # a Unicode digit: str.isdigit() is True, int() refuses it (ValueError)
def test_bodies_are_read_whole_or_refused_with_a_413(
    declared: str | None, chunks: list[bytes]
) -> None:
    headers = [] if declared is None else [("content-length", declared)]
    request = _request(headers, chunks)
    try:
        body = asyncio.run(read_body(request, LIMIT))
    except ApiError as error:
        assert error.status == 413
        return
    assert body == b"".join(chunks) and len(body) <= LIMIT


# --- the schema the server documents -------------------------------------------------------------


def test_boxes_are_bounded_in_the_schema_and_by_validation() -> None:
    # A decoder call attends over every box; a 10 MiB body of boxes would hold a worker for
    # hours, so the request schema caps them (and says so in /openapi.json).
    schema = SegmentOptions.model_json_schema()
    boxes = schema["properties"]["boxes"]["anyOf"][0]
    assert boxes["maxItems"] >= 1
    assert boxes["items"]["minItems"] == boxes["items"]["maxItems"] == 4
    too_many = [[0, 0, 1, 1]] * (boxes["maxItems"] + 1)
    outcome = _parse("application/json", json.dumps({"image": "aGk=", "boxes": too_many}).encode())
    assert isinstance(outcome, ApiError) and outcome.status == 422 and "boxes" in outcome.message


@pytest.mark.parametrize("body", [{"image": "aGk=", "boxes": [[0, 0, 1]]}])
def test_a_box_of_three_numbers_is_a_422_naming_boxes(body: dict[str, Any]) -> None:
    outcome = _parse("application/json", json.dumps(body).encode())
    assert isinstance(outcome, ApiError) and outcome.status == 422 and "boxes" in outcome.message
