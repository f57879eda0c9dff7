"""Structured logs: one JSON object per line, with the request id and fields of each event."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any, TextIO

LOGGER_NAME = "sam3lib.server"
# uvicorn's own messages (startup, shutdown, protocol errors) go to the same stream as JSON.
_UVICORN_LOGGERS = ("uvicorn", "uvicorn.error")


class JsonLineFormatter(logging.Formatter):
    """Formats a record as ``{"time", "level", "logger", "message", **fields}``.

    Fields come from ``extra={"fields": {...}}``; an exception adds ``"exception"`` (the
    traceback stays in the log, never in a response).

    Example:
        >>> record = logging.LogRecord("x", logging.INFO, "", 0, "hello", None, None)
        >>> record.fields = {"request_id": "abc"}
        >>> JsonLineFormatter().format(record)[-47:]
        '"logger": "x", "message": "hello", "request_id": "abc"}'
    """

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_json_logging(level: str = "info", stream: TextIO | None = None) -> logging.Logger:
    """Send the server's and uvicorn's logs to ``stream`` (stderr) as JSON lines.

    Called by ``sam3lib serve``; an application embedding the server configures logging
    itself.

    Returns:
        The server's logger.

    Example:
        >>> logger = configure_json_logging("warning")  # doctest: +SKIP
    """
    handler = logging.StreamHandler(sys.stderr if stream is None else stream)
    handler.setFormatter(JsonLineFormatter())
    for name in (LOGGER_NAME, *_UVICORN_LOGGERS):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level.upper())
        logger.propagate = False
    return logging.getLogger(LOGGER_NAME)
