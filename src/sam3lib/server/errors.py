"""Errors the server answers with a status and a message, never with a traceback."""

from __future__ import annotations


class ApiError(Exception):
    """A request the server refuses: ``status`` (4xx/5xx) and a message for the client.

    Example:
        >>> error = ApiError(413, "body: over the limit of 10 MiB")
        >>> error.status, error.message
        (413, 'body: over the limit of 10 MiB')
    """

    def __init__(self, status: int, message: str, *, retry_after_s: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after_s = retry_after_s
