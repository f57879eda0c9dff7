"""Committed results of a run: numbered shard files, each written atomically.

Records are buffered and committed as one shard file (JSON lines, sorted by source index)
when ``shard_size`` records are waiting or ``commit_seconds`` have passed. A shard is written
to a temporary file and renamed into place (:mod:`.atomic`), so after a crash every shard on
disk is complete and every record not in one is simply redone: nothing lost, nothing twice.

Reading back, :meth:`ShardStore.records` returns every committed record in source order,
whatever order the shards were written in (Ray delivers results out of order), holding only
the positions of the records in memory, never the records themselves.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from sam3lib.errors import InputError
from sam3lib.labelling.atomic import remove_partial_files, write_atomic

__all__ = ["ShardStore"]

_SHARD_NAME = re.compile(r"^shard-(\d{6,})\.jsonl$")
_OPEN_FILES = 32  # shard files kept open while reading records back in order
_FAILURE_LINE_LIMIT = 16_384  # a failure record (identity, path, reason) is far shorter
# Every record starts with its index and key (see records.py): reading those is enough to
# plan the ordered read, without parsing masks.
_RECORD_START = re.compile(rb'^\{"index": (\d+), "key": ("(?:[^"\\]|\\.)*")')


class ShardStore:
    """The shard directory of one run.

    Args:
        directory: where the shards live (created if missing).
        shard_size: records per shard.
        commit_seconds: commit a non-empty buffer after this many seconds anyway.

    Example:
        >>> import tempfile, pathlib
        >>> store = ShardStore(pathlib.Path(tempfile.mkdtemp()), shard_size=2)
        >>> store.add({"index": 1, "key": "b"}); store.add({"index": 0, "key": "a"})
        >>> sorted(store.done_keys()), [r["key"] for r in store.records()]
        (['a', 'b'], ['a', 'b'])
    """

    def __init__(self, directory: Path, *, shard_size: int = 64, commit_seconds: float = 60.0):
        self.directory = directory
        self.shard_size = shard_size
        self.commit_seconds = commit_seconds
        directory.mkdir(parents=True, exist_ok=True)
        remove_partial_files(directory)
        self._buffer: list[dict[str, Any]] = []
        self._buffer_started = time.monotonic()
        self._next_number = max((number for number, _ in self._shards()), default=-1) + 1

    def done_keys(self, *, failed: bool = True) -> set[str]:
        """Keys of the committed records (their latest commit); with ``failed=False``, only
        those of images labelled, so that a resumed run tries the failed ones again."""
        return {key for key, (_, _, _, error) in self._latest().items() if failed or not error}

    def add(self, record: dict[str, Any]) -> None:
        """Buffer ``record``; commit the buffer when it is full or old enough."""
        if not self._buffer:
            self._buffer_started = time.monotonic()
        self._buffer.append(record)
        full = len(self._buffer) >= self.shard_size
        if full or time.monotonic() - self._buffer_started >= self.commit_seconds:
            self.commit()

    def commit(self) -> None:
        """Write the buffered records as the next shard (nothing when the buffer is empty)."""
        if not self._buffer:
            return
        records = sorted(self._buffer, key=lambda record: record["index"])
        text = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
        write_atomic(self.directory / f"shard-{self._next_number:06d}.jsonl", text)
        self._next_number += 1
        self._buffer = []

    def records(self, order: dict[str, int] | None = None) -> Iterator[dict[str, Any]]:
        """Every committed record once (the latest committed, should a key appear twice: a
        failed image labelled on a retry), in source order.

        Args:
            order: the source's current position of each key, when known: records come in
                that order, and those of keys no longer in the source are left out (a run
                resumed after files were added, renamed or removed gives the dataset a fresh
                run would). None: the order of the indices recorded when labelled.
        """
        latest = self._latest()
        positions = sorted(
            (index if order is None else order[key], key, path, offset)
            for key, (index, path, offset, _) in latest.items()
            if order is None or key in order
        )
        files: dict[Path, IO[bytes]] = {}
        try:
            for _, _, path, offset in positions:
                file = files.get(path)
                if file is None:
                    if len(files) >= _OPEN_FILES:
                        files.pop(next(iter(files))).close()
                    file = files[path] = path.open("rb")
                file.seek(offset)
                yield json.loads(file.readline())
        finally:
            for file in files.values():
                file.close()

    def _latest(self) -> dict[str, tuple[int, Path, int, bool]]:
        """key → (index, shard, byte offset, failed) of its latest committed record."""
        latest: dict[str, tuple[int, Path, int, bool]] = {}
        for index, key, path, offset, failed in self._positions():
            latest[key] = (index, path, offset, failed)  # shards are read oldest first
        return latest

    def _shards(self) -> list[tuple[int, Path]]:
        found = []
        for path in self.directory.iterdir():
            match = _SHARD_NAME.match(path.name)
            if match:
                found.append((int(match.group(1)), path))
        return sorted(found)

    def _positions(self) -> Iterator[tuple[int, str, Path, int, bool]]:
        """(index, key, shard, byte offset, failed) of each committed record, oldest shard
        first."""
        for _, path in self._shards():
            offset = 0
            with path.open("rb") as file:
                for line in file:
                    match = _RECORD_START.match(line)
                    if match is None or not line.endswith(b"\n"):
                        raise InputError(
                            f"the shard '{path}' is damaged (not written by sam3lib's atomic "
                            "writer?); delete it and run again to redo its images"
                        )
                    key = json.loads(match.group(2))
                    yield int(match.group(1)), key, path, offset, _is_failure(line)
                    offset += len(line)


def _is_failure(line: bytes) -> bool:
    # A failure record is its identity plus "error" (records.py); a labelled image's record
    # holds "height" first. Only short lines can be failures: parse those alone.
    return len(line) < _FAILURE_LINE_LIMIT and "error" in json.loads(line)
