"""JSON lines: ``results.jsonl`` (one line per labelled image, everything, timings included)
and ``errors.jsonl`` (one line per image that failed, with the reason)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path

from sam3lib.labelling.atomic import atomic_writer
from sam3lib.labelling.records import Record, is_error

__all__ = ["write_errors", "write_jsonl"]


def write_jsonl(path: Path, records: Iterable[Record], prompts: Sequence[str]) -> None:
    """Each labelled image's record, its instances named by their prompt as well."""
    with atomic_writer(path) as file:
        for record in records:
            if is_error(record):
                continue
            instances = [
                {"prompt": prompts[instance["category"] - 1], **instance}
                for instance in record["instances"]
            ]
            file.write(json.dumps({**record, "instances": instances}, ensure_ascii=False) + "\n")


def write_errors(path: Path, records: Iterable[Record]) -> int:
    """Each failed image with its reason; returns how many failed (the file is written, empty,
    when none did, so that its absence never has to be interpreted)."""
    failed = 0
    with atomic_writer(path) as file:
        for record in records:
            if is_error(record):
                failed += 1
                entry = {"file_name": record["file_name"], "error": record["error"]}
                file.write(json.dumps(entry, ensure_ascii=False) + "\n")
    return failed
