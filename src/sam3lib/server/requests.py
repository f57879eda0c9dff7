"""Reading request bodies: JSON with a base64 image, or a multipart upload.

Both carry the same options (for ``POST /v1/segment``: :class:`SegmentOptions`); every way a
body can be wrong ends in an :class:`~sam3lib.server.errors.ApiError` with a 4xx status and a
message naming the field. Each endpoint describes its body with a :class:`RequestForm`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.datastructures import UploadFile
from starlette.requests import Request

from sam3lib.server.errors import ApiError

MaskFormatName = Literal["rle", "polygons", "png", "none"]

#: Most exemplar boxes one request may carry. The decoder attends over every box, so a body
#: full of boxes (10 MiB holds about a million) would hold a worker for hours; real prompts
#: use a handful.
MAX_BOXES = 64

# Bodies over the limit are still read (and dropped) up to this many times the limit, so the
# client, still sending, reads a 413 instead of a reset connection.
_DRAIN_FACTOR = 8
# json.loads recurses per nesting level: a body of 100 000 "[" exhausts Python's stack.
_TOO_DEEP = "{name}: JSON nested too deeply (a segment request needs 3 levels)"


class SegmentOptions(BaseModel):
    """Everything in a segment request except the image."""

    model_config = ConfigDict(extra="forbid")

    prompts: list[str] = Field(
        default_factory=list,
        description="text prompts, each answered separately ('red car'); may be empty when "
        "exemplar boxes are given",
    )
    boxes: list[Annotated[list[float], Field(min_length=4, max_length=4)]] | None = Field(
        None,
        max_length=MAX_BOXES,
        description=f"exemplar boxes [[x0, y0, x1, y1], ...] in pixels, shared by prompts; "
        f"at most {MAX_BOXES}",
    )
    box_labels: list[int] | None = Field(
        None, max_length=MAX_BOXES, description="1 positive (default), 0 negative, per box"
    )
    threshold: float = Field(0.5, ge=0.0, le=1.0, description="detection score threshold")
    mask_threshold: float = Field(0.5, ge=0.0, le=1.0, description="mask probability threshold")
    top_k: int | None = Field(None, ge=1, description="keep at most this many per prompt")
    nms_iou: float | None = Field(None, gt=0.0, le=1.0, description="mask NMS IoU, off if null")
    refine: int | None = Field(None, ge=0, le=5, description="mask refinement level, 0-5")
    mask_format: MaskFormatName = Field(
        "rle", description="'rle' (COCO RLE), 'polygons' (COCO), 'png' (base64 PNG), 'none'"
    )


class SegmentJsonRequest(SegmentOptions):
    """A JSON segment request: the options plus the image as base64 (or a data: URL)."""

    image: str = Field(description="the image file (PNG, JPEG, WebP...) as base64")


Options = TypeVar("Options", bound=BaseModel)


@dataclass(frozen=True)
class RequestForm(Generic[Options]):
    """How one endpoint's body is read.

    Attributes:
        options: the options model (everything but the image), ``extra="forbid"``.
        json_body: ``options`` plus ``image: str`` (base64): the JSON body.
        json_fields: multipart fields that hold JSON text (lists of numbers).
        repeated_fields: multipart fields given once per item of a list (``prompts``).
    """

    options: type[Options]
    json_body: type[BaseModel]
    json_fields: frozenset[str] = frozenset()
    repeated_fields: frozenset[str] = frozenset()

    def request_body_schema(self) -> dict[str, Any]:
        """The OpenAPI ``requestBody`` of the endpoint: JSON or a multipart form."""
        return {
            "required": True,
            "content": {
                "application/json": {"schema": self.json_body.model_json_schema()},
                "multipart/form-data": {"schema": self.multipart_schema()},
            },
        }

    def multipart_schema(self) -> dict[str, Any]:
        """The OpenAPI schema of the multipart form: an ``image`` file plus the options."""
        schema = self.options.model_json_schema()
        properties = dict(schema["properties"])
        # Lists of numbers travel as JSON text in a form field.
        for name in sorted(self.json_fields):
            properties[name] = {"type": "string", "description": f"{name} as JSON text"}
        for name in sorted(self.repeated_fields):
            properties[name] = {
                "type": "array",
                "items": {"type": "string"},
                "description": f"one form field per item of {name}",
            }
        return {
            "type": "object",
            "required": ["image"],
            "properties": {"image": {"type": "string", "format": "binary"}, **properties},
            "additionalProperties": False,  # other fields are refused, as in JSON bodies
        }


SEGMENT_FORM = RequestForm(
    SegmentOptions,
    SegmentJsonRequest,
    json_fields=frozenset({"boxes", "box_labels"}),
    repeated_fields=frozenset({"prompts"}),
)


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The request body, or a 413 once it passes ``max_bytes``.

    Raises:
        ApiError: 413 when the body is larger than ``max_bytes``.
    """
    declared = request.headers.get("content-length", "")
    # isascii: str.isdigit() also accepts digits int() refuses, such as "²".
    if declared.isascii() and declared.isdigit() and int(declared) > max_bytes * _DRAIN_FACTOR:
        raise _too_large(int(declared), max_bytes)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size <= max_bytes:
            chunks.append(chunk)
        elif size > max_bytes * _DRAIN_FACTOR:
            break
    if size > max_bytes:
        raise _too_large(size, max_bytes)
    return b"".join(chunks)


async def parse_segment_request(request: Request, body: bytes) -> tuple[bytes, SegmentOptions]:
    """The image file's bytes and the segment options, from a JSON or multipart ``body``.

    Raises:
        ApiError: 415 for another content type, 422 for anything malformed.
    """
    return await parse_request(request, body, SEGMENT_FORM)


async def parse_request(
    request: Request, body: bytes, form: RequestForm[Options]
) -> tuple[bytes, Options]:
    """The image file's bytes and the options ``form`` describes, from a JSON or multipart
    ``body``.

    Raises:
        ApiError: 415 for another content type, 422 for anything malformed.
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/json":
        return _parse_json(body, form)
    if content_type == "multipart/form-data":
        return await _parse_multipart(request, body, form)
    raise ApiError(
        415,
        f"content-type: expected application/json or multipart/form-data, got "
        f"{content_type or 'none'!r}",
    )


def validation_message(errors: Sequence[Mapping[str, Any]]) -> str:
    """Pydantic's errors as one line: ``"field: problem; other: problem"``."""
    parts = []
    for item in errors:
        where = ".".join(str(part) for part in item["loc"]) or "body"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def _parse_json(body: bytes, form: RequestForm[Options]) -> tuple[bytes, Options]:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise ApiError(422, f"body: not valid JSON ({error})") from None
    except RecursionError:
        raise ApiError(422, _TOO_DEEP.format(name="body")) from None
    if not isinstance(data, dict):
        raise ApiError(422, "body: expected a JSON object with 'image' and the options")
    try:
        parsed = form.json_body.model_validate(data)
    except ValidationError as error:
        raise ApiError(422, validation_message(error.errors())) from None
    values = parsed.model_dump()
    image = values.pop("image")
    return decode_base64_image(image), form.options.model_validate(values)


async def _parse_multipart(
    request: Request, body: bytes, form: RequestForm[Options]
) -> tuple[bytes, Options]:
    async def replay() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        fields_in = await Request(request.scope, replay).form(max_files=1, max_fields=64)
    except Exception as error:  # starlette raises several types for malformed multipart
        raise ApiError(422, f"body: malformed multipart form ({error})") from None
    upload = fields_in.get("image")
    if upload is None:
        raise ApiError(422, "image: missing; send the image file in a form field 'image'")
    if not isinstance(upload, UploadFile):
        raise ApiError(422, "image: expected a file upload, got a text field")
    fields: dict[str, Any] = {}
    for name in set(fields_in.keys()) - {"image"}:
        values = fields_in.getlist(name)
        if not all(isinstance(value, str) for value in values):
            raise ApiError(422, f"{name}: expected text, got a file")
        if name in form.repeated_fields:
            fields[name] = values
        elif len(values) > 1:
            raise ApiError(422, f"{name}: given {len(values)} times; give it once")
        elif name in form.json_fields:
            fields[name] = _json_field(name, str(values[0]))
        else:
            fields[name] = values[0]
    try:
        options = form.options.model_validate(fields)
    except ValidationError as error:
        raise ApiError(422, validation_message(error.errors())) from None
    return await upload.read(), options


def decode_base64_image(text: str) -> bytes:
    """Bytes of a base64 image, also accepted as a ``data:image/...;base64,`` URL.

    Raises:
        ApiError: 422 when the text is not base64 or is empty.

    Example:
        >>> decode_base64_image("data:image/png;base64,iVBORw0K")
        b'\\x89PNG\\r\\n'
    """
    if text.startswith("data:"):
        header, _, text = text.partition(",")
        if not header.endswith(";base64"):
            raise ApiError(422, "image: a data: URL must be base64 (data:image/png;base64,...)")
    try:
        data = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(422, "image: not valid base64") from None
    if not data:
        raise ApiError(422, "image: empty")
    return data


def _json_field(name: str, text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise ApiError(422, f"{name}: not valid JSON (e.g. [[10, 20, 110, 140]])") from None
    except RecursionError:
        raise ApiError(422, _TOO_DEEP.format(name=name)) from None


def _too_large(size: int, max_bytes: int) -> ApiError:
    return ApiError(413, f"body: {size} bytes is over the limit of {max_bytes / 2**20:g} MiB")
