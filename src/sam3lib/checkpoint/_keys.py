"""Small helpers about state-dict key names: allow-lists of ignored keys, readable key lists."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MAX_LISTED_KEYS = 20


@dataclass(frozen=True)
class IgnoredKeys:
    """Checkpoint keys we drop on purpose, and why: a regular expression over whole keys."""

    pattern: str
    reason: str

    def matches(self, key: str) -> bool:
        return re.fullmatch(self.pattern, key) is not None


def is_ignored(key: str, allow_list: Sequence[IgnoredKeys]) -> bool:
    return any(entry.matches(key) for entry in allow_list)


def describe_keys(keys: Iterable[str], limit: int = MAX_LISTED_KEYS) -> str:
    """The first ``limit`` keys in sorted order, one per line, and how many were left out.

    Example:
        >>> print(describe_keys(["b", "a", "c"], limit=2))
          a
          b
          ... and 1 more
    """
    ordered = sorted(keys)
    lines = [f"  {key}" for key in ordered[:limit]]
    if len(ordered) > limit:
        lines.append(f"  ... and {len(ordered) - limit} more")
    return "\n".join(lines)
