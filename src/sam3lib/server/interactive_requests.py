"""Bodies of ``POST /v1/predict`` (clicks, boxes -> one object) and ``POST /v1/generate``
(automatic masks), read as :mod:`~sam3lib.server.requests` reads every body.

Coordinates are pixels of the uploaded image. What the schema cannot check (a point outside
the image, an empty prompt, a box without area) is left to :meth:`Segmenter.predict`, whose
:class:`~sam3lib.errors.InputError` the app answers with 422, naming the field.

An earlier answer's low-resolution logits travel as base64 of little-endian float16, m x m
values row by row (m = 288 for SAM 3, ``mask_input_size`` in ``/v1/info``): 166 KB of bytes,
221 KB of base64, against some 2 MB as a JSON list of numbers. The server keeps nothing
between requests; the client holds the logits it wants to refine with.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from sam3lib.interactive.mask_generation import MaskGenerationOptions
from sam3lib.server.errors import ApiError
from sam3lib.server.requests import MAX_BOXES, MaskFormatName, RequestForm

__all__ = [
    "GENERATE_FORM",
    "MAX_POINTS",
    "MAX_POINTS_PER_SIDE",
    "PREDICT_FORM",
    "GenerateOptions",
    "PredictOptions",
    "decode_mask_input",
    "encode_logits",
]

#: Most clicks in one predict request (Meta's demo sends a handful).
MAX_POINTS = 64
#: Largest click grid side of a generate request: 64² clicks, each decoded three ways, hold a
#: worker for a while even on a GPU; segment-anything uses 32.
MAX_POINTS_PER_SIDE = 64
#: Most crop layers of a generate request: layer i encodes the image again 4**i times.
MAX_CROP_LAYERS = 2
MAX_POINTS_PER_BATCH = 256

_Point = Annotated[list[float], Field(min_length=2, max_length=2)]
_Box = Annotated[list[float], Field(min_length=4, max_length=4)]
_MaskInputs = Annotated[list[str], Field(min_length=1, max_length=MAX_BOXES)]
_GENERATION_DEFAULTS = MaskGenerationOptions()
_LOGITS_DTYPE = np.dtype("<f2")


class PredictOptions(BaseModel):
    """Everything in a predict request except the image; as :meth:`Segmenter.predict`."""

    model_config = ConfigDict(extra="forbid")

    points: list[_Point] | None = Field(
        None,
        min_length=1,
        max_length=MAX_POINTS,
        description=f"clicks [[x, y], ...] in pixels, inside the image; at most {MAX_POINTS}",
    )
    point_labels: list[int] | None = Field(
        None, max_length=MAX_POINTS, description="1 on the object (default), 0 off it, per point"
    )
    box: _Box | None = Field(None, description="[x0, y0, x1, y1] around the object, in pixels")
    boxes: list[_Box] | None = Field(
        None,
        min_length=1,
        max_length=MAX_BOXES,
        description=f"several objects, one box each (not with box or points); at most {MAX_BOXES}",
    )
    mask_input: _MaskInputs | str | None = Field(
        None,
        description="an earlier answer's logits of the same object (its 'logits' field: "
        "base64 little-endian float16, m x m), to refine it; with boxes, one per box or one "
        "for all",
    )
    multimask: bool = Field(
        True,
        description="three candidates (best for one ambiguous click); false: one mask (better "
        "for boxes and several clicks); with boxes, each box's best candidate",
    )
    max_hole_area: int = Field(
        256, ge=0, le=2**20, description="fill holes up to this many low-resolution pixels"
    )
    return_logits: bool = Field(
        False, description="add each mask's low-resolution logits, to send back as mask_input"
    )
    mask_format: MaskFormatName = Field(
        "rle", description="'rle' (COCO RLE), 'polygons' (COCO), 'png' (base64 PNG), 'none'"
    )


class PredictJsonRequest(PredictOptions):
    """A JSON predict request: the options plus the image as base64 (or a data: URL)."""

    image: str = Field(description="the image file (PNG, JPEG, WebP...) as base64")


class GenerateOptions(BaseModel):
    """Everything in a generate request except the image: :class:`MaskGenerationOptions`."""

    model_config = ConfigDict(extra="forbid")

    points_per_side: int = Field(
        _GENERATION_DEFAULTS.points_per_side,
        ge=1,
        le=MAX_POINTS_PER_SIDE,
        description="the click grid has N x N points",
    )
    points_per_batch: int = Field(
        _GENERATION_DEFAULTS.points_per_batch,
        ge=1,
        le=MAX_POINTS_PER_BATCH,
        description="clicks decoded at once (memory, not results)",
    )
    pred_iou_thresh: float = Field(_GENERATION_DEFAULTS.pred_iou_thresh, ge=0.0, le=1.0)
    stability_score_thresh: float = Field(
        _GENERATION_DEFAULTS.stability_score_thresh, ge=0.0, le=1.0
    )
    stability_score_offset: float = Field(
        _GENERATION_DEFAULTS.stability_score_offset, ge=0.0, le=1000.0
    )
    box_nms_thresh: float = Field(_GENERATION_DEFAULTS.box_nms_thresh, ge=0.0, le=1.0)
    crop_n_layers: int = Field(
        _GENERATION_DEFAULTS.crop_n_layers,
        ge=0,
        le=MAX_CROP_LAYERS,
        description="extra crop layers; layer i encodes 4**i crops",
    )
    crop_nms_thresh: float = Field(_GENERATION_DEFAULTS.crop_nms_thresh, ge=0.0, le=1.0)
    crop_overlap_ratio: float = Field(_GENERATION_DEFAULTS.crop_overlap_ratio, ge=0.0, lt=1.0)
    crop_n_points_downscale_factor: int = Field(
        _GENERATION_DEFAULTS.crop_n_points_downscale_factor, ge=1, le=MAX_POINTS_PER_SIDE
    )
    min_mask_region_area: int = Field(
        _GENERATION_DEFAULTS.min_mask_region_area,
        ge=0,
        le=2**31 - 1,
        description="remove holes and islands smaller than this many pixels (0: off)",
    )
    mask_threshold: float = Field(
        _GENERATION_DEFAULTS.mask_threshold, ge=-1000.0, le=1000.0, description="mask logit"
    )
    mask_format: MaskFormatName = Field(
        "rle", description="'rle' (COCO RLE), 'polygons' (COCO), 'png' (base64 PNG), 'none'"
    )

    def generation_options(self) -> MaskGenerationOptions:
        """The library's options (which check what the schema cannot).

        Raises:
            InputError: a combination the generator refuses.
        """
        return MaskGenerationOptions(**self.model_dump(exclude={"mask_format"}))


class GenerateJsonRequest(GenerateOptions):
    """A JSON generate request: the options plus the image as base64 (or a data: URL)."""

    image: str = Field(description="the image file (PNG, JPEG, WebP...) as base64")


PREDICT_FORM = RequestForm(
    PredictOptions,
    PredictJsonRequest,
    json_fields=frozenset({"points", "point_labels", "box", "boxes"}),
    repeated_fields=frozenset({"mask_input"}),
)
GENERATE_FORM = RequestForm(GenerateOptions, GenerateJsonRequest)


def decode_mask_input(
    mask_input: list[str] | str | None, size: int
) -> npt.NDArray[np.float32] | None:
    """``mask_input`` as (size, size) logits, or (N, size, size) for a list of N.

    Raises:
        ApiError: 422 when an item is not base64 of size² float16 values.

    Example:
        >>> text = encode_logits(np.zeros((2, 2), dtype=np.float32))
        >>> decode_mask_input(text, 2).shape, decode_mask_input([text, text], 2).shape
        ((2, 2), (2, 2, 2))
    """
    if mask_input is None:
        return None
    texts = [mask_input] if isinstance(mask_input, str) else mask_input
    if not texts:  # only from Python: the schema wants one item or more
        raise ApiError(422, "mask_input: empty list; leave it out, or give one per box")
    if isinstance(mask_input, str):
        return _logits(mask_input, size, "mask_input")
    return np.stack([_logits(text, size, f"mask_input[{i}]") for i, text in enumerate(texts)])


def encode_logits(logits: npt.NDArray[np.floating[Any]]) -> str:
    """(m, m) logits as base64 little-endian float16, what ``mask_input`` accepts back.

    Example:
        >>> encode_logits(np.array([[1.0]], dtype=np.float32))
        'ADw='
    """
    return base64.b64encode(np.ascontiguousarray(logits, dtype=_LOGITS_DTYPE).tobytes()).decode()


def _logits(text: str, size: int, name: str) -> npt.NDArray[np.float32]:
    expected = size * size * _LOGITS_DTYPE.itemsize
    try:
        data = base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(422, f"{name}: not valid base64") from None
    if len(data) != expected:
        raise ApiError(
            422,
            f"{name}: expected {size}x{size} float16 logits ({expected} bytes, as an answer's "
            f"'logits' field), got {len(data)} bytes",
        )
    return np.frombuffer(data, dtype=_LOGITS_DTYPE).reshape(size, size).astype(np.float32)
