"""The FastAPI application: ``POST /v1/segment``, ``/v1/predict`` and ``/v1/generate``,
``GET /v1/info``, ``GET /healthz``.

With an API key, ``/v1/*`` needs ``Authorization: Bearer <key>``; ``/healthz`` and the docs
stay open (:mod:`~sam3lib.server.access`). CORS headers are sent only for configured origins.

Every request gets an id (the client's ``X-Request-ID`` if it sent a sane one), echoed in the
response header, in error bodies and in the JSON log line written when the request ends.
Errors are answered as ``{"detail": message, "request_id": id}`` with a 4xx status (409 for
clicks or automatic masks asked of a checkpoint without the interactive head, or for a Chinese
prompt on a server without the ``zh`` extra); anything unexpected is logged with its traceback
and answered 500 with no details.

Prompts that are not ASCII go through the segmenter's translator (:func:`sam3lib.translate`
unless the server was started with ``--no-translate``); each result carries the user's
``prompt`` and the English ``query`` the model read.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from sam3lib import __version__
from sam3lib.errors import BackendUnavailableError, InputError, InteractiveUnavailableError
from sam3lib.segmenter import Segmenter
from sam3lib.server.access import UNAUTHORIZED, add_cors, api_key_dependencies
from sam3lib.server.errors import ApiError
from sam3lib.server.gate import AdmissionGate
from sam3lib.server.images import load_image, open_image
from sam3lib.server.interactive_requests import (
    GENERATE_FORM,
    PREDICT_FORM,
    PredictOptions,
    decode_mask_input,
)
from sam3lib.server.jsonlog import LOGGER_NAME
from sam3lib.server.limits import ServerLimits
from sam3lib.server.requests import (
    SEGMENT_FORM,
    RequestForm,
    SegmentOptions,
    parse_request,
    read_body,
    validation_message,
)
from sam3lib.server.responses import (
    ErrorResponse,
    GenerateResponse,
    InfoResponse,
    PredictResponse,
    SegmentResponse,
    predict_payload,
    result_payload,
)

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": description}
    for status, description in [
        (413, "request body or image too large"),
        (415, "not JSON or multipart"),
        (422, "malformed request: the message names the field"),
        (503, "queue full; retry after Retry-After seconds"),
    ]
}
_SEGMENT_ERRORS: dict[int | str, dict[str, Any]] = {
    **_ERRORS,
    409: {
        "model": ErrorResponse,
        "description": "a prompt needs translating to English and this server cannot (its "
        "'zh' extra is missing; see translation in /v1/info)",
    },
}
_INTERACTIVE_ERRORS: dict[int | str, dict[str, Any]] = {
    **_ERRORS,
    # A 4xx, not 501: the request is sound but conflicts with the model this server loaded,
    # and a 5xx would count as a server failure in monitoring (and in the fuzz suite).
    409: {
        "model": ErrorResponse,
        "description": "the checkpoint has no interactive head (see interactive in /v1/info)",
    },
}


def create_app(
    segmenter: Segmenter,
    *,
    model_name: str,
    limits: ServerLimits | None = None,
    logger: logging.Logger | None = None,
    api_key: str | None = None,
    cors_origins: Sequence[str] = (),
) -> FastAPI:
    """The HTTP API over one shared ``segmenter``.

    Args:
        segmenter: answers every request (it is thread-safe).
        model_name: what ``/v1/info`` and responses call the model (its source).
        limits: request, image and queue bounds; :class:`ServerLimits` defaults otherwise.
        logger: where request logs go; ``logging.getLogger("sam3lib.server")`` by default.
        api_key: when given, ``/v1/*`` answers 401 without ``Authorization: Bearer
            <api_key>``; ``/healthz``, ``/openapi.json`` and ``/docs`` stay open.
        cors_origins: browser origins (``https://app.example.com``) whose scripts may call
            the API; none by default, and then no CORS header is ever sent.

    Returns:
        The app; serve it with its lifespan (ASGI servers and ``with TestClient(app)`` run
        it), which starts the segmentation workers and stops them at shutdown.

    Raises:
        InputError: an empty or malformed ``api_key``, or a malformed origin.

    Example:
        >>> app = create_app(Segmenter.from_pretrained("tiny/"), model_name="tiny")
        ... # doctest: +SKIP
        >>> uvicorn.run(app, host="127.0.0.1", port=8000)  # doctest: +SKIP
    """
    bounds = ServerLimits() if limits is None else limits
    log = logging.getLogger(LOGGER_NAME) if logger is None else logger

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[dict[str, AdmissionGate]]:
        # Each lifespan gets its own workers (a closed executor cannot be reopened), so one
        # app object can be served again after a shutdown; requests see it as state.gate.
        gate = AdmissionGate(bounds.workers, bounds.max_waiting)
        try:
            yield {"gate": gate}
        finally:
            gate.close()

    app = FastAPI(
        title="sam3lib",
        version=__version__,
        summary="SAM 3 segmentation: text prompts, clicks and boxes in; masks, boxes and scores "
        "out.",
        lifespan=lifespan,
    )
    _install_error_handlers(app)
    add_cors(app, cors_origins, custom_headers=[REQUEST_ID_HEADER])
    # Added last, so outermost: every answer is logged, 401s and CORS preflights included.
    _install_request_context(app, log)
    # The API proper; /healthz and the docs are the app's own routes and stay open.
    api = APIRouter(
        dependencies=api_key_dependencies(api_key),
        responses=None if api_key is None else UNAUTHORIZED,
    )

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Liveness: the model is loaded and the server answers."""
        return {"status": "ok"}

    @api.get("/v1/info", response_model=InfoResponse)
    async def info() -> InfoResponse:
        """The model, backend, precision and device serving requests, and the limits."""
        backend = segmenter.backend
        return InfoResponse(
            model=model_name,
            backend=backend.name,
            precision=backend.precision,
            device=str(segmenter.device),
            version=__version__,
            limits=asdict(bounds),
            interactive=backend.config.tracker is not None,
            resolution=backend.config.vision.image_size,
            translation=segmenter.translator is not None,
            mask_input_size=segmenter.interactive.mask_size,
        )

    async def answer(
        request: Request,
        form: RequestForm[Any],
        compute: Callable[[Any, Any], Any],
        encode: Callable[[Any, Any], Any],
        check: Callable[[Any], None] | None = None,
    ) -> tuple[Any, Any, dict[str, float], list[int]]:
        """Read ``request`` (and ``check`` its options), run ``compute(image, options)`` then
        ``encode(result, options)`` on a worker; the options, the payload, the timings and
        [height, width]."""
        started = time.perf_counter()
        body = await read_body(request, bounds.max_request_bytes)
        image_file, options = await parse_request(request, body, form)
        if check is not None:
            check(options)
        image = open_image(image_file, bounds.max_image_pixels)

        def work() -> tuple[Any, float, float]:
            segment_started = time.perf_counter()
            result = compute(load_image(image), options)
            encode_started = time.perf_counter()
            payload = encode(result, options)
            done = time.perf_counter()
            return payload, encode_started - segment_started, done - encode_started

        gate: AdmissionGate = request.state.gate
        (payload, segment_s, encode_s), queue_s = await gate.run(work)
        timings = {
            "queue": queue_s,
            "segment": segment_s,
            "encode": encode_s,
            "total": time.perf_counter() - started,
        }
        width, height = image.size
        return options, payload, timings, [height, width]

    def reply(request: Request, size: list[int], **fields: Any) -> JSONResponse:
        return JSONResponse(
            {
                "request_id": request.state.request_id,
                "model": model_name,
                "image_size": size,
                **fields,
            }
        )

    @api.post(
        "/v1/segment",
        responses={200: {"model": SegmentResponse}, **_SEGMENT_ERRORS},
        openapi_extra={"requestBody": SEGMENT_FORM.request_body_schema()},
    )
    async def segment(request: Request) -> JSONResponse:
        """Find every instance of each prompt: boxes, scores, labels and masks per prompt.

        Send JSON (``image`` as base64) or a multipart form (``image`` as a file, one
        ``prompts`` field per prompt, ``boxes`` as JSON text); text is UTF-8. A prompt in
        Chinese (红色的汽车) is translated to English (red car) first: each result has the
        ``prompt`` as sent and the ``query`` the model read.
        """
        options, payloads, timings, size = await answer(
            request,
            SEGMENT_FORM,
            lambda image, options: _segment(segmenter, image, options),
            lambda results, options: [
                result_payload(result, options.mask_format) for result in results
            ],
            check=lambda options: _check_prompt_count(options, bounds.max_prompts),
        )
        request.state.log_fields = {"timings": timings, "prompts": options.prompts}
        return reply(request, size, results=payloads, timings=timings)

    @api.post(
        "/v1/predict",
        responses={200: {"model": PredictResponse}, **_INTERACTIVE_ERRORS},
        openapi_extra={"requestBody": PREDICT_FORM.request_body_schema()},
    )
    async def predict(request: Request) -> JSONResponse:
        """Segment ONE object from clicks on it and/or a box around it (or several objects,
        one box each): its candidate masks with predicted IoU, and optionally the
        low-resolution logits to refine it with in a next request (``mask_input``).

        Not the exemplar boxes of ``/v1/segment`` ("find everything like this"): a box here
        is "this object". Send JSON or a multipart form (``points``, ``boxes``... as JSON
        text; ``mask_input`` once per item).
        """
        _require_interactive(segmenter)  # before reading a body it could not use
        options, payload, timings, size = await answer(
            request,
            PREDICT_FORM,
            lambda image, options: _predict(segmenter, image, options),
            lambda result, options: predict_payload(
                result, options.mask_format, options.return_logits
            ),
        )
        request.state.log_fields = {"timings": timings, "prompt": _prompt_summary(options)}
        return reply(request, size, result=payload, timings=timings)

    @api.post(
        "/v1/generate",
        responses={200: {"model": GenerateResponse}, **_INTERACTIVE_ERRORS},
        openapi_extra={"requestBody": GENERATE_FORM.request_body_schema()},
    )
    async def generate(request: Request) -> JSONResponse:
        """Every object in the image, no prompt: automatic masks from a grid of clicks,
        largest first (segment-anything's automatic mask generator).

        Send JSON or a multipart form; every option has segment-anything's default.
        """
        _require_interactive(segmenter)
        options, payload, timings, size = await answer(
            request,
            GENERATE_FORM,
            lambda image, options: segmenter.generate(
                image, options.generation_options(), progress=False
            ),
            lambda result, options: result_payload(result, options.mask_format),
        )
        request.state.log_fields = {
            "timings": timings,
            "points_per_side": options.points_per_side,
            "masks": len(payload["instances"]),
        }
        return reply(request, size, result=payload, timings=timings)

    app.include_router(api)
    return app


def _segment(segmenter: Segmenter, image: Any, options: SegmentOptions) -> list[Any]:
    answer = segmenter.segment(
        image,
        options.prompts or None,
        boxes=options.boxes or None,
        box_labels=options.box_labels or None,
        threshold=options.threshold,
        mask_threshold=options.mask_threshold,
        top_k=options.top_k,
        nms_iou=options.nms_iou,
        refine=options.refine or None,
    )
    return answer if isinstance(answer, list) else [answer]


def _check_prompt_count(options: SegmentOptions, max_prompts: int) -> None:
    if len(options.prompts) > max_prompts:
        raise ApiError(422, f"prompts: {len(options.prompts)} is over the limit of {max_prompts}")


def _predict(segmenter: Segmenter, image: Any, options: PredictOptions) -> Any:
    return segmenter.predict(
        image,
        points=options.points,
        point_labels=options.point_labels,
        box=options.box,
        boxes=options.boxes,
        mask_input=decode_mask_input(options.mask_input, segmenter.interactive.mask_size),
        multimask=options.multimask,
        max_hole_area=options.max_hole_area,
    )


def _require_interactive(segmenter: Segmenter) -> None:
    """Raises InteractiveUnavailableError (answered 409) without the interactive head."""
    segmenter.interactive.tracker  # noqa: B018


def _prompt_summary(options: PredictOptions) -> dict[str, int]:
    """What a predict request asked, for the log: counts, not coordinates."""
    mask_inputs = options.mask_input
    return {
        "points": len(options.points or ()),
        "boxes": len(options.boxes or ()) + (options.box is not None),
        "mask_inputs": 1 if isinstance(mask_inputs, str) else len(mask_inputs or ()),
    }


def _install_request_context(app: FastAPI, log: logging.Logger) -> None:
    @app.middleware("http")
    async def request_context(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        offered = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = offered if _SANE_REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex
        request.state.request_id = request_id
        started = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception:
            log.exception("request failed", extra={"fields": _fields(request, 500, started)})
            response = _error_response(request, 500, "internal server error")
        response.headers[REQUEST_ID_HEADER] = request_id
        fields = _fields(request, response.status_code, started)
        log.log(
            logging.WARNING if response.status_code >= 400 else logging.INFO,
            "request",
            extra={"fields": fields},
        )
        return response


def _install_error_handlers(app: FastAPI) -> None:
    async def api_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, ApiError)
        headers = None if error.retry_after_s is None else {"Retry-After": str(error.retry_after_s)}
        return _error_response(request, error.status, error.message, headers)

    async def input_error(request: Request, error: Exception) -> Response:
        return _error_response(request, 422, str(error))

    async def interactive_unavailable(request: Request, error: Exception) -> Response:
        return _error_response(request, 409, str(error))

    async def backend_unavailable(request: Request, error: Exception) -> Response:
        # Only a request's translation can raise it after start-up: the zh extra is missing.
        return _error_response(request, 409, str(error))

    async def validation_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        return _error_response(request, 422, validation_message(error.errors()))

    async def http_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, HTTPException)
        return _error_response(request, error.status_code, str(error.detail), error.headers)

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(InputError, input_error)
    app.add_exception_handler(InteractiveUnavailableError, interactive_unavailable)
    app.add_exception_handler(BackendUnavailableError, backend_unavailable)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(HTTPException, http_error)


def _error_response(
    request: Request, status: int, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    request.state.error = message
    request_id = getattr(request.state, "request_id", "")
    return JSONResponse(
        {"detail": message, "request_id": request_id}, status_code=status, headers=headers
    )


def _fields(request: Request, status: int, started: float) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "request_id": request.state.request_id,
        "method": request.method,
        "path": request.url.path,
        "status": status,
        "duration_ms": round(1000 * (time.perf_counter() - started), 2),
        "client": request.client.host if request.client else None,
    }
    fields.update(getattr(request.state, "log_fields", {}))
    if error := getattr(request.state, "error", None):
        fields["error"] = error
    return fields
