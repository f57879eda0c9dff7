"""A directory of built TensorRT engines, keyed by everything that makes an engine valid.

Engines take minutes to build and only run where they were built: on the same TensorRT
version and the same GPU model. :class:`EngineCache` keeps one file per :class:`EngineKey`
(weights, graph, precision, input shapes, TensorRT version, GPU, sam3lib version) beside a
JSON sidecar holding the key and the engine's sha256. An entry is trusted only when the
sidecar matches the key and the bytes, and the caller's ``check`` (TensorRT deserialising
it) succeeds; anything else is rebuilt, with an :class:`EngineCacheWarning` saying why.

Writes are crash-safe: each file is written to a temporary name in the same directory and
renamed into place (``os.replace`` is atomic), the sidecar after the engine, so a build that
dies half-way leaves either no entry or one whose checksum fails. Builders of the same key
take a lock file, so a second process waits for the first and then loads its engine instead
of building it again. TensorRT's timing cache (measured kernel timings, which make later
builds faster) is kept per TensorRT version and GPU.

This module does not import TensorRT: it stores bytes.

Example:
    >>> cache = EngineCache("/tmp/engines")  # doctest: +SKIP
    >>> engine = cache.load_or_build(key, build=build_engine, check=deserialize)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from sam3lib.user_cache import default_cache_root

T = TypeVar("T")

SIDECAR_FORMAT = 1  # bumped when the sidecar's layout changes
ENGINE_SUFFIX = ".engine"
SIDECAR_SUFFIX = ".json"

#: (input name, min shape, opt shape, max shape): one optimisation-profile entry.
ProfileEntry = tuple[str, tuple[int, ...], tuple[int, ...], tuple[int, ...]]


class EngineCacheWarning(UserWarning):
    """A cached engine was unusable (corrupt, incomplete, stale) and is being rebuilt."""


@dataclass(frozen=True)
class EngineKey:
    """Everything an engine depends on; two keys are equal exactly when one engine serves both.

    Attributes:
        weights_sha256: hash of the model weights the graph was exported from.
        graph: ``"image_encoder"``, ``"text_encoder"`` or ``"decoder"``.
        precision: ``"fp32"``, ``"fp16"`` or ``"bf16"``.
        profile: the optimisation profile, one :data:`ProfileEntry` per input (fixed inputs
            have min = opt = max), so batch, box slots and prompt range are all in it.
        tensorrt_version: ``tensorrt.__version__``; engines do not load across versions.
        gpu_name: e.g. ``"NVIDIA H100 80GB HBM3"``; kernels are chosen per GPU model.
        compute_capability: (major, minor), e.g. (9, 0).
        sam3lib_version: the version that exported the graph and chose the build recipe.
        build_options: anything else that changes the engine, as sorted (name, value) pairs
            (the ONNX opset, the export's precision and input size).
    """

    weights_sha256: str
    graph: str
    precision: str
    profile: tuple[ProfileEntry, ...]
    tensorrt_version: str
    gpu_name: str
    compute_capability: tuple[int, int]
    sam3lib_version: str
    build_options: tuple[tuple[str, str], ...] = ()

    def to_json(self) -> Any:
        """The key as JSON values (tuples become lists): what the sidecar stores."""
        return json.loads(json.dumps(asdict(self), sort_keys=True))

    def digest(self) -> str:
        """sha256 of the key's canonical JSON: stable across processes and machines.

        Example:
            >>> key = EngineKey("ab", "decoder", "fp16", (), "10.7.0", "GPU", (9, 0), "0.1.0")
            >>> len(key.digest())
            64
        """
        canonical = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def file_stem(self) -> str:
        """``<graph>-<precision>-<digest prefix>``: readable, and unique per key."""
        return f"{self.graph}-{self.precision}-{self.digest()[:32]}"


def default_engine_cache_dir() -> Path:
    """``$SAM3LIB_CACHE/tensorrt``, else ``~/.cache/sam3lib/tensorrt`` (never created here)."""
    return default_cache_root() / "tensorrt"


class EngineCache:
    """Engines on disk, one entry per :class:`EngineKey`; see the module docstring.

    Args:
        root: the directory (created on the first write); default
            :func:`default_engine_cache_dir`.
    """

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(root) if root is not None else default_engine_cache_dir()

    def engine_path(self, key: EngineKey) -> Path:
        return self.root / f"{key.file_stem()}{ENGINE_SUFFIX}"

    def sidecar_path(self, key: EngineKey) -> Path:
        return self.root / f"{key.file_stem()}{SIDECAR_SUFFIX}"

    def load_or_build(
        self, key: EngineKey, build: Callable[[], bytes], check: Callable[[bytes], T]
    ) -> T:
        """``check(bytes)`` of the cached engine for ``key``, building and storing it if needed.

        Args:
            key: what the engine must match.
            build: makes the engine's bytes (minutes, for TensorRT).
            check: turns bytes into the usable object (deserialises them), raising on bytes it
                refuses; a cached entry it refuses is rebuilt. It is not retried on fresh
                bytes: an exception there propagates and nothing is stored.

        Warns:
            EngineCacheWarning: an entry existed but was unusable, and is rebuilt.
        """
        loaded = self._try_load(key, check)
        if isinstance(loaded, _Loaded):
            return loaded.value
        self.root.mkdir(parents=True, exist_ok=True)
        with _file_lock(self.root / f"{key.file_stem()}.lock"):
            # Another process may have built it while we waited for the lock.
            loaded = self._try_load(key, check)
            if isinstance(loaded, _Loaded):
                return loaded.value
            if loaded is not None:
                warnings.warn(
                    f"cached TensorRT engine {self.engine_path(key)} is unusable ({loaded}); "
                    "rebuilding it",
                    EngineCacheWarning,
                    stacklevel=2,
                )
            data = build()
            value = check(data)
            self._store(key, data)
            return value

    def timing_cache_path(self, key: EngineKey) -> Path:
        """The timing cache shared by every engine built with ``key``'s TensorRT and GPU."""
        target = json.dumps([key.tensorrt_version, key.gpu_name, list(key.compute_capability)])
        digest = hashlib.sha256(target.encode("utf-8")).hexdigest()[:16]
        return self.root / f"timing-trt{key.tensorrt_version}-{digest}.cache"

    def load_timing_cache(self, key: EngineKey) -> bytes | None:
        """The saved timing cache for ``key``'s TensorRT version and GPU, or None."""
        try:
            return self.timing_cache_path(key).read_bytes()
        except OSError:
            return None

    def save_timing_cache(self, key: EngineKey, data: bytes) -> None:
        """Replace the timing cache atomically (a concurrent reader sees old or new)."""
        self.root.mkdir(parents=True, exist_ok=True)
        write_atomic(self.timing_cache_path(key), data)

    # --- internals -----------------------------------------------------------------------

    def _try_load(self, key: EngineKey, check: Callable[[bytes], T]) -> _Loaded[T] | str | None:
        """The checked engine, why the entry is unusable, or None if there is no entry."""
        engine_path, sidecar_path = self.engine_path(key), self.sidecar_path(key)
        if not engine_path.exists() and not sidecar_path.exists():
            return None
        try:
            sidecar = json.loads(sidecar_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            return f"no readable metadata: {error}"
        if not isinstance(sidecar, dict) or sidecar.get("format") != SIDECAR_FORMAT:
            return "metadata in an unknown format"
        if sidecar.get("key") != key.to_json():
            return "metadata for a different key"
        try:
            data = engine_path.read_bytes()
        except OSError as error:
            return f"engine file unreadable: {error}"
        if len(data) != sidecar.get("size") or _sha256(data) != sidecar.get("sha256"):
            return "checksum mismatch: the file is truncated or damaged"
        try:
            return _Loaded(check(data))
        except Exception as error:  # whatever TensorRT raises for an engine it refuses
            return f"refused when loaded: {error}"

    def _store(self, key: EngineKey, data: bytes) -> None:
        # The engine first: the sidecar is what vouches for it, so it must come last.
        write_atomic(self.engine_path(key), data)
        sidecar = {
            "format": SIDECAR_FORMAT,
            "key": key.to_json(),
            "size": len(data),
            "sha256": _sha256(data),
        }
        write_atomic(self.sidecar_path(key), (json.dumps(sidecar, indent=2) + "\n").encode())


@dataclass(frozen=True)
class _Loaded(Generic[T]):
    value: T


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one.

    A temporary file in the same directory (same filesystem, so the rename is atomic), fsynced
    before ``os.replace``; on any failure the temporary file is removed.
    """
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``path`` across processes (and threads: each call opens
    its own file description). On Windows there is none; atomic writes still keep entries
    whole, and two builders then both build."""
    if sys.platform == "win32":
        yield
        return
    import fcntl

    with open(path, "a+b") as file:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(file.fileno(), fcntl.LOCK_UN)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
