"""The bounded queue in front of the model: a few workers, a few waiting, the rest turned away.

Segmentation is CPU/GPU bound and runs in worker threads, so the event loop keeps accepting
(and refusing) requests while the model works. Requests beyond ``workers + max_waiting`` are
refused at once instead of piling up: a client gets a fast 503 rather than a slow timeout.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from sam3lib.errors import InputError
from sam3lib.server.errors import ApiError

T = TypeVar("T")

RETRY_AFTER_S = 1


class AdmissionGate:
    """Runs calls on ``workers`` threads, with at most ``max_waiting`` calls queued.

    Args:
        workers: calls that run at once.
        max_waiting: calls that may wait for a free worker.

    Example:
        >>> import asyncio
        >>> gate = AdmissionGate(workers=1, max_waiting=4)
        >>> value, waited_s = asyncio.run(gate.run(lambda: 6 * 7))
        >>> value
        42
        >>> gate.close()
    """

    def __init__(self, workers: int, max_waiting: int) -> None:
        if workers < 1 or max_waiting < 0:
            raise InputError(f"workers >= 1 and max_waiting >= 0, got {workers}, {max_waiting}")
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="sam3lib-segment")
        self._capacity = workers + max_waiting
        self._admitted = 0  # running or waiting; released when the call is done, not awaited
        self._lock = threading.Lock()

    @property
    def admitted(self) -> int:
        """Calls running or waiting now."""
        with self._lock:
            return self._admitted

    async def run(self, function: Callable[[], T]) -> tuple[T, float]:
        """Run ``function`` on a worker thread.

        Returns:
            Its result, and the seconds it waited for a worker.

        Raises:
            ApiError: 503 when ``workers + max_waiting`` calls are already admitted.
            Exception: whatever ``function`` raises.
        """
        with self._lock:
            if self._admitted >= self._capacity:
                raise ApiError(
                    503,
                    f"server busy: {self._capacity} requests already running or queued; "
                    f"retry in {RETRY_AFTER_S} s",
                    retry_after_s=RETRY_AFTER_S,
                )
            self._admitted += 1
        submitted = time.perf_counter()
        started: list[float] = []

        def timed() -> T:
            started.append(time.perf_counter())
            return function()

        try:
            future = self._executor.submit(timed)
        except BaseException:
            self._release()
            raise
        # Released when the thread is done: a client that hangs up does not free a worker
        # still busy with its request (a call cancelled while waiting is done at once).
        future.add_done_callback(lambda _: self._release())
        result = await asyncio.wrap_future(future)
        return result, started[0] - submitted

    def close(self) -> None:
        """Drop waiting calls and let running ones finish in the background."""
        self._executor.shutdown(wait=False, cancel_futures=True)

    def _release(self) -> None:
        with self._lock:
            self._admitted -= 1
