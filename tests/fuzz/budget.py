"""How many examples each property runs: small by default, many with HYPOTHESIS_PROFILE=long.

The default keeps the fuzz suites to seconds each, so they run with every ``pytest``;
``HYPOTHESIS_PROFILE=long pytest tests/fuzz`` multiplies every budget for a deeper search
before a release or after touching the code under test.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import HealthCheck, settings

F = TypeVar("F", bound=Callable[..., Any])

LONG = os.environ.get("HYPOTHESIS_PROFILE") == "long"
LONG_FACTOR = 25


def examples(count: int) -> Callable[[F], F]:
    """``@settings`` with ``count`` examples (``LONG_FACTOR`` times more in the long run).

    No deadline: the first call of a property pays for imports and caches, and timings are
    not what these suites check.
    """
    scaled = count * LONG_FACTOR if LONG else count
    return settings(  # type: ignore[return-value]
        max_examples=scaled,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
