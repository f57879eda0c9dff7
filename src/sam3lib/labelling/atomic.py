"""Files that are either absent or complete: a crash (``kill -9``) never leaves half a file.

Each file is written to a temporary sibling, flushed to disk, then renamed over the target;
``os.replace`` is atomic on POSIX and Windows when both names are in the same directory.

Crash testing: with ``SAM3LIB_CRASH_WRITING=<file name>`` in the environment, the process
kills itself with SIGKILL while writing that file, half of its bytes on disk, so that tests
can kill a real run at an exact point (``tests/labelling/test_kill_and_resume.py``).
"""

from __future__ import annotations

import os
import signal
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

__all__ = ["CRASH_VARIABLE", "atomic_writer", "remove_partial_files", "write_atomic"]

CRASH_VARIABLE = "SAM3LIB_CRASH_WRITING"


@contextmanager
def atomic_writer(path: Path, mode: str = "w") -> Iterator[IO]:  # type: ignore[type-arg]
    """Open a temporary file beside ``path``; on a clean exit it becomes ``path``.

    On an exception the temporary file is removed and ``path`` is left as it was.

    Example:
        >>> import tempfile, pathlib
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
        >>> with atomic_writer(target) as file:
        ...     _ = file.write("done")
        >>> target.read_text()
        'done'
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    encoding = None if "b" in mode else "utf-8"
    try:
        with os.fdopen(handle, mode, encoding=encoding) as file:
            yield file
            file.flush()
            if os.environ.get(CRASH_VARIABLE) == path.name:
                _crash_halfway(file)
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _sync_directory(path.parent)


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` atomically (text as UTF-8)."""
    with atomic_writer(path, "wb" if isinstance(data, bytes) else "w") as file:
        file.write(data)


def remove_partial_files(directory: Path) -> None:
    """Delete the temporary files a crash left in ``directory`` and below (never complete,
    never read)."""
    if directory.is_dir():
        for partial in directory.rglob(".*.part"):
            partial.unlink(missing_ok=True)


def _crash_halfway(file: IO) -> None:  # type: ignore[type-arg]
    file.truncate(file.tell() // 2)
    os.fsync(file.fileno())
    os.kill(os.getpid(), signal.SIGKILL)


def _sync_directory(directory: Path) -> None:
    # The rename itself lives in the directory: without this, a power cut may forget it.
    if os.name != "posix":
        return
    handle = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)
