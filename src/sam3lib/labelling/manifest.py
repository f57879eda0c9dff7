"""The run manifest: what a dataset was made with, so that a resumed run cannot mix settings.

``OUT/run/manifest.json`` records the sam3lib version, the checkpoint's weights hash, the
backend and precision, the source and every :class:`~.settings.LabelSettings` field. A run
that finds a manifest compares it field by field and refuses to go on where they differ,
naming each difference; a fresh ``--out`` (or deleting the old one) starts over.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sam3lib.errors import Sam3Error
from sam3lib.labelling.atomic import write_atomic
from sam3lib.labelling.settings import LabelSettings, ModelSpec
from sam3lib.user_cache import default_cache_root
from sam3lib.version import __version__

__all__ = ["RunManifest", "RunMismatchError", "open_manifest", "weights_digest"]

MANIFEST_FORMAT = 1
_CHUNK = 16 << 20


class RunMismatchError(Sam3Error):
    """``--out`` holds a run made with other settings; resuming would mix two datasets."""


@dataclass(frozen=True)
class RunManifest:
    """What decides a run's dataset (see the module docstring)."""

    settings: LabelSettings
    model: ModelSpec
    weights_sha256: str
    source: str

    def to_json(self) -> dict[str, Any]:
        return {
            "format": MANIFEST_FORMAT,
            "sam3lib_version": __version__,
            "weights_sha256": self.weights_sha256,
            "backend": self.model.backend,
            "precision": self.model.precision,
            "resolution": self.model.resolution,
            "source": self.source,
            **self.settings.to_json(),
        }


def open_manifest(path: Path, manifest: RunManifest) -> bool:
    """Write ``manifest`` at ``path``, or check it against the one already there.

    Returns:
        True when a previous run's manifest was found (the run resumes).

    Raises:
        RunMismatchError: the manifest there differs; the message lists each difference.
    """
    wanted = manifest.to_json()
    if not path.exists():
        write_atomic(path, json.dumps(wanted, indent=2, ensure_ascii=False) + "\n")
        return False
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise RunMismatchError(
            f"cannot read the run manifest '{path}' ({error}); use another --out directory"
        ) from None
    differences = [
        f"{name}: {found.get(name)!r} there, {value!r} now"
        for name, value in wanted.items()
        if found.get(name) != value
    ]
    if differences:
        raise RunMismatchError(
            f"'{path.parent.parent}' holds a run made with other settings, so it cannot be "
            "resumed with these (" + "; ".join(differences) + "). Use the same settings to "
            "resume it, or another --out directory to start a new dataset."
        )
    return True


def weights_digest(paths: list[Path], cache: Path | None = None) -> str:
    """SHA-256 over the bytes of ``paths`` in order (the weights file, or exported graphs).

    Hashing the full checkpoint takes seconds (3.4 GB), and every start of a run needs it: with
    ``cache`` (by default ``<sam3lib cache>/digests``), the digest is kept under a name made of
    the files' paths, sizes and modification times, and read back while none has changed.
    """
    stamps = []
    for path in paths:
        status = path.stat()
        stamps.append(f"{path.resolve()}|{status.st_size}|{status.st_mtime_ns}")
    directory = cache if cache is not None else default_cache_root() / "digests"
    cached = directory / hashlib.sha256("\n".join(stamps).encode()).hexdigest()
    try:
        return cached.read_text(encoding="ascii").strip()
    except OSError:
        pass
    digest = hashlib.sha256()
    for path in paths:
        with path.open("rb") as file:
            while chunk := file.read(_CHUNK):
                digest.update(chunk)
    with contextlib.suppress(OSError):  # a read-only home: hash again next time
        write_atomic(cached, digest.hexdigest())
    return digest.hexdigest()
