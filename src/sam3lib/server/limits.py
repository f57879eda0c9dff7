"""What the server accepts: request size, image size, prompts, and how many requests wait."""

from __future__ import annotations

from dataclasses import dataclass, fields

from sam3lib.errors import InputError

MEBIBYTE = 2**20


@dataclass(frozen=True)
class ServerLimits:
    """Bounds that keep one server responsive and its memory bounded.

    Attributes:
        max_request_bytes: largest request body; larger ones get 413.
        max_image_pixels: largest image (width x height); larger ones get 413.
        max_prompts: most text prompts in one request; more get 422.
        workers: segmentations run at once (each uses all of torch's threads).
        max_waiting: requests that may wait for a worker; beyond, 503 with Retry-After.

    Raises:
        InputError: a limit is not a positive int (``max_waiting`` may be 0).

    Example:
        >>> ServerLimits(max_request_bytes=5 * MEBIBYTE).max_request_bytes
        5242880
    """

    max_request_bytes: int = 10 * MEBIBYTE
    max_image_pixels: int = 4096 * 4096
    max_prompts: int = 16
    workers: int = 1
    max_waiting: int = 64

    def __post_init__(self) -> None:
        for limit in fields(self):
            value = getattr(self, limit.name)
            lowest = 0 if limit.name == "max_waiting" else 1
            if isinstance(value, bool) or not isinstance(value, int) or value < lowest:
                raise InputError(f"{limit.name}: expected an int >= {lowest}, got {value!r}")
