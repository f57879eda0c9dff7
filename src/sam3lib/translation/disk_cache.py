"""Parsed dictionaries kept on disk, so that a new process reads them instead of parsing.

Parsing CC-CEDICT and jieba's word list costs over a second; reading back what the parse
produced costs a fraction of that. Each entry is one file,
``$SAM3LIB_CACHE/translation/<name>-<key>.marshal`` (default ``~/.cache/sam3lib/translation``),
whose key hashes everything the entry is built from (the packages' versions, the parsing
code, the Python that wrote it), so an upgrade writes a new entry instead of reading a stale
one; old entries are not deleted (each is a few MB: delete the directory to reclaim them).

An entry is written to a temporary file renamed into place, so a crash or a concurrent
process never leaves a half-written one. An entry that cannot be read (damaged, truncated,
from another key) is built again; a directory that cannot be written only means the next
process parses again.
"""

from __future__ import annotations

import hashlib
import logging
import marshal
import os
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from sam3lib.user_cache import default_cache_root

T = TypeVar("T")

# Bump when the layout of an entry changes.
_FORMAT = "1"
_LOG = logging.getLogger(__name__)


def translation_cache_dir() -> Path:
    """``$SAM3LIB_CACHE/translation``, else ``~/.cache/sam3lib/translation`` (created on the
    first write).

    Example:
        >>> translation_cache_dir().name
        'translation'
    """
    return default_cache_root() / "translation"


def entry_key(parts: Iterable[str]) -> str:
    """A short hex digest of ``parts`` and of what decides the file format (marshal, Python).

    Example:
        >>> len(entry_key(["jieba", "0.42.1"]))
        16
    """
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    text = "\0".join([_FORMAT, python, str(marshal.version), *parts])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def load_or_build(
    name: str,
    key_parts: Iterable[str],
    build: Callable[[], T],
    *,
    directory: Path | None = None,
) -> T:
    """The value stored under ``name`` and ``key_parts``, else ``build()``, stored for next time.

    Args:
        name: what the entry holds, the start of its file name (``"cc-cedict"``).
        key_parts: everything the value is built from; a change in any builds a new entry.
        build: makes the value; it must be made of what marshal stores (dict, list, tuple,
            str, int, float, bytes, None).
        directory: where entries live; :func:`translation_cache_dir` by default.

    Returns:
        The value, read back from disk or freshly built.

    Example:
        >>> load_or_build("squares", ["1"], lambda: {n: n * n for n in range(3)},
        ...               directory=Path("/tmp/cache"))  # doctest: +SKIP
        {0: 0, 1: 1, 2: 4}
    """
    key = entry_key([name, *key_parts])
    path = (translation_cache_dir() if directory is None else directory) / f"{name}-{key}.marshal"
    stored = _read(path, key)
    if stored is not None:
        return stored
    value = build()
    entry: Any = (key, value)  # marshal's stub does not know a TypeVar is marshallable
    _write(path, marshal.dumps(entry))
    return value


def _read(path: Path, key: str) -> Any:
    """The value of the entry at ``path`` if it is whole and holds ``key``, else None."""
    try:
        # read_bytes then loads: marshal.load on a file object reads item by item, ~5x slower.
        stored_key, value = marshal.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, EOFError, ValueError, TypeError) as error:
        _LOG.warning(
            "the translation cache entry %s is unreadable (%s); rebuilding it", path, error
        )
        return None
    return value if stored_key == key else None


def _write(path: Path, data: bytes) -> None:
    temporary: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
        os.replace(temporary, path)
    except OSError as error:
        _LOG.warning(
            "could not write the translation cache entry %s (%s): the next process parses the "
            "dictionary again; set $SAM3LIB_CACHE to a writable directory",
            path,
            error,
        )
        if temporary is not None:
            Path(temporary).unlink(missing_ok=True)
