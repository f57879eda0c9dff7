"""Results as JSON: what ``POST /v1/segment`` and the other endpoints answer.

The instance fields come from :meth:`SegmentationResult.to_dict` (and
:meth:`InteractiveResult.to_dict`); this module adds the PNG mask format and the
low-resolution logits of ``/v1/predict``, and declares the shapes for the OpenAPI schema.
"""

from __future__ import annotations

import base64
import io
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image
from pydantic import BaseModel, Field

from sam3lib.interactive.result import InteractiveResult
from sam3lib.result import SegmentationResult
from sam3lib.server.interactive_requests import encode_logits
from sam3lib.server.requests import MaskFormatName


def result_payload(result: SegmentationResult, mask_format: MaskFormatName) -> dict[str, Any]:
    """One result as JSON-ready data, masks in ``mask_format``.

    ``"png"`` gives each mask as a base64 1-bit PNG at the image's size; the other formats
    are those of :meth:`SegmentationResult.to_dict`.

    Example:
        >>> empty = SegmentationResult.empty("cat", (4, 6))
        >>> result_payload(empty, "png")["instances"]
        []
    """
    if mask_format != "png":
        return result.to_dict(mask_format)
    payload = result.to_dict("none")
    for instance, mask in zip(payload["instances"], result.masks, strict=True):
        instance["segmentation"] = mask_png_base64(mask)
    return payload


def predict_payload(
    result: InteractiveResult, mask_format: MaskFormatName, return_logits: bool
) -> dict[str, Any]:
    """:func:`result_payload` of an interactive result, plus each mask's low-resolution
    ``logits`` (base64 float16, see :func:`encode_logits`) when ``return_logits``.

    Example:
        >>> predict_payload(result, "rle", return_logits=True)["instances"][0]["logits"][:8]
        ... # doctest: +SKIP
        'AEgASABI'
    """
    payload = result_payload(result, mask_format)
    if return_logits:
        for instance, logits in zip(payload["instances"], result.logits, strict=True):
            instance["logits"] = encode_logits(logits)
    return payload


def mask_png_base64(mask: npt.NDArray[np.bool_]) -> str:
    """A (H, W) bool mask as a base64 1-bit PNG (decode: ``np.array(Image.open(...))``)."""
    buffer = io.BytesIO()
    Image.fromarray(mask).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


class InstanceOut(BaseModel):
    label: str
    score: float
    box: list[float] = Field(description="[x0, y0, x1, y1] in pixels")
    area: int = Field(description="pixels in the mask")
    segmentation: Any = Field(
        None,
        description="COCO RLE {size, counts}, COCO polygons, or a base64 PNG, per mask_format",
    )


class InteractiveInstanceOut(InstanceOut):
    object_score: float = Field(description="σ(object score): does the prompt hit an object")
    logits: str | None = Field(
        None,
        description="with return_logits: the mask's low-resolution logits, base64 "
        "little-endian float16, m x m (m = mask_input_size of /v1/info); send back as "
        "mask_input",
    )


class ResultOut(BaseModel):
    prompt: str | None = Field(description="the prompt as sent; null for exemplar boxes only")
    query: str | None = Field(
        None,
        description="the English text the model read for the prompt: the prompt itself when "
        "it is English, its translation otherwise (红色的汽车 → red car); null without a prompt",
    )
    label: str
    image_size: list[int] = Field(description="[height, width]")
    timings: dict[str, float] = Field(description="seconds per model stage")
    instances: list[InstanceOut]


class SegmentResponse(BaseModel):
    request_id: str
    model: str
    image_size: list[int] = Field(description="[height, width]")
    results: list[ResultOut] = Field(description="one per prompt, in order")
    timings: dict[str, float] = Field(
        description="seconds: queue (waiting for a worker), segment (model and post-processing)"
        ", encode (JSON masks), total (the whole request)"
    )


class PredictResultOut(ResultOut):
    best: int = Field(description="index of the instance with the highest predicted IoU")
    instances: list[InteractiveInstanceOut] = Field(  # type: ignore[assignment]
        description="one object's candidates (3 with multimask, else 1), or one per box; "
        "score = predicted IoU"
    )


class PredictResponse(BaseModel):
    request_id: str
    model: str
    image_size: list[int] = Field(description="[height, width]")
    result: PredictResultOut
    timings: dict[str, float] = Field(
        description="seconds: queue, segment (model and post-processing), encode, total"
    )


class GenerateResponse(BaseModel):
    request_id: str
    model: str
    image_size: list[int] = Field(description="[height, width]")
    result: ResultOut = Field(description="every mask found, largest first; score = IoU")
    timings: dict[str, float] = Field(
        description="seconds: queue, segment (model and post-processing), encode, total"
    )


class InfoResponse(BaseModel):
    model: str
    backend: str
    precision: str
    device: str
    version: str
    limits: dict[str, int]
    interactive: bool = Field(
        description="whether /v1/predict and /v1/generate work (the checkpoint has SAM 3's "
        "interactive head); without it they answer 409"
    )
    resolution: int = Field(
        description="the model's input size in pixels: every image is resized to resolution "
        "× resolution before encoding (1008 for SAM 3; another with sam3lib serve --resolution)"
    )
    mask_input_size: int = Field(
        description="side m of the low-resolution logits (288 at resolution 1008: 4 × "
        "resolution / 14)"
    )
    translation: bool = Field(
        description="whether prompts that are not ASCII are translated to English before the "
        "model reads them (off with sam3lib serve --no-translate)"
    )


class ErrorResponse(BaseModel):
    detail: str
    request_id: str
