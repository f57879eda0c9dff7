"""Turn a checkpoint source (hub repo id, directory or file) into local file paths.

A directory is read like a transformers checkpoint: ``model.safetensors`` (or Meta's
``sam3.pt``), an optional ``config.json`` and optional tokenizer files. A single file is just
weights: the loader then uses the published SAM 3 configuration. A hub repo id downloads only
those files, through ``huggingface_hub``'s cache (its progress bars, ``HF_HUB_OFFLINE``,
``HF_TOKEN``, ``hf auth login``).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import huggingface_hub
from huggingface_hub import constants as hub_constants
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from sam3lib.checkpoint.files import WEIGHT_SUFFIXES
from sam3lib.checkpoint.transformers_config import CONFIG_FILENAME
from sam3lib.errors import CheckpointError, HubAccessError, NotASam3CheckpointError
from sam3lib.export.manifest import MANIFEST_FILENAME
from sam3lib.tokenizer import MERGES_FILE, TOKENIZER_FILE, VOCAB_FILE

HUB_WEIGHTS_FILENAME = "model.safetensors"
# In a local directory, the first of these that exists holds the weights.
LOCAL_WEIGHTS_FILENAMES = (HUB_WEIGHTS_FILENAME, "sam3.pt")
TOKENIZER_FILENAMES = (TOKENIZER_FILE, VOCAB_FILE, MERGES_FILE)

_REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")
_TRUE_VALUES = {"1", "ON", "YES", "TRUE"}


@dataclass(frozen=True)
class ResolvedCheckpoint:
    """Local paths of one checkpoint's files.

    Attributes:
        source: what the caller passed (repo id or path), for messages.
        weights_path: the ``.safetensors``/``.pt`` file; None for a directory that holds
            only exported ONNX graphs (see ``export_dir``).
        config_path: transformers ``config.json``, or None (then the SAM 3 preset applies).
        tokenizer_files: the tokenizer files found, by file name (``tokenizer.json``,
            ``vocab.json``, ``merges.txt``).
        export_dir: the directory, when it holds graphs from ``sam3lib export`` (a
            ``manifest.json``), which the onnxruntime and TensorRT backends run.
    """

    source: str
    weights_path: Path | None
    config_path: Path | None = None
    tokenizer_files: Mapping[str, Path] = field(default_factory=dict)
    export_dir: Path | None = None


def resolve_checkpoint(
    source: str | os.PathLike[str],
    *,
    revision: str | None = None,
    token: str | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
) -> ResolvedCheckpoint:
    """Find or download a checkpoint's files.

    ``source`` is an existing directory or file, else a hub repo id such as
    ``"facebook/sam3"``. ``revision``, ``token`` and ``cache_dir`` apply to the hub only.

    Raises:
        CheckpointError: if a local path does not exist, a revision is unknown, or
            ``HF_HUB_OFFLINE`` is set and the files are not cached.
        HubAccessError: if the hub refuses access (gated, private, bad token), is unreachable,
            or a download is cut short.
        NotASam3CheckpointError: if the directory or repository holds no weights file.

    Example:
        >>> resolved = resolve_checkpoint("facebook/sam3")  # doctest: +SKIP
        >>> resolved.weights_path.name  # doctest: +SKIP
        'model.safetensors'
    """
    path = Path(source).expanduser()
    if path.is_dir():
        return _resolve_directory(path, str(source))
    if path.is_file():
        return ResolvedCheckpoint(str(source), _check_suffix(path))
    text = os.fspath(source)
    if isinstance(source, str) and _REPO_ID.fullmatch(text) and path.suffix not in WEIGHT_SUFFIXES:
        return _resolve_hub(text, revision=revision, token=token, cache_dir=cache_dir)
    raise CheckpointError(
        f"checkpoint {text!r} does not exist: pass an existing file or directory, or a "
        "Hugging Face Hub repo id such as 'facebook/sam3'"
    )


def _check_suffix(path: Path) -> Path:
    if path.suffix.lower() not in WEIGHT_SUFFIXES:
        raise CheckpointError(
            f"{path} is not a weights file: expected one of {', '.join(WEIGHT_SUFFIXES)}"
        )
    return path


def _resolve_directory(directory: Path, source: str) -> ResolvedCheckpoint:
    weights = next(
        (directory / name for name in LOCAL_WEIGHTS_FILENAMES if (directory / name).is_file()),
        None,
    )
    exported = (directory / MANIFEST_FILENAME).is_file()
    if weights is None and not exported:
        raise NotASam3CheckpointError(
            f"{directory} holds none of {', '.join(LOCAL_WEIGHTS_FILENAMES)} "
            f"(nor a {MANIFEST_FILENAME} of exported graphs)"
        )
    config = directory / CONFIG_FILENAME
    return ResolvedCheckpoint(
        source,
        weights,
        config if config.is_file() else None,
        {name: directory / name for name in TOKENIZER_FILENAMES if (directory / name).is_file()},
        directory if exported else None,
    )


def _hub_offline() -> bool:
    """Whether the hub is off limits: huggingface_hub's flag or the same variables read now.

    huggingface_hub reads ``HF_HUB_OFFLINE`` (else ``TRANSFORMERS_OFFLINE``) once, when
    ``huggingface_hub.constants`` is imported, and then refuses every request; reading the
    variables again here also honours them when set after that import (a notebook, a test).
    ``constants`` is imported by name above: ``huggingface_hub`` loads its submodules lazily,
    so ``huggingface_hub.constants`` is no attribute until something imports it.
    """
    now = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return hub_constants.HF_HUB_OFFLINE or now.upper() in _TRUE_VALUES


def _resolve_hub(
    repo_id: str,
    *,
    revision: str | None,
    token: str | None,
    cache_dir: str | os.PathLike[str] | None,
) -> ResolvedCheckpoint:
    hub = _HubFiles(repo_id, revision, token, cache_dir, local_only=_hub_offline())
    # config.json first: it is small, so access problems show up before a large download.
    config = hub.fetch_optional(CONFIG_FILENAME)
    tokenizer = {name: hub.fetch_optional(name) for name in TOKENIZER_FILENAMES}
    try:
        weights = hub.fetch(HUB_WEIGHTS_FILENAME)
    except EntryNotFoundError as err:
        raise _missing_file_error(err, repo_id, HUB_WEIGHTS_FILENAME, hub.unreachable) from err
    return ResolvedCheckpoint(
        repo_id, weights, config, {name: p for name, p in tokenizer.items() if p is not None}
    )


@dataclass
class _HubFiles:
    """One repository's files through huggingface_hub's cache, errors made sam3lib's.

    Attributes:
        local_only: read the cache only (offline, or once the hub proved unreachable).
        unreachable: the hub did not answer for a file that is not cached.
    """

    repo_id: str
    revision: str | None
    token: str | None
    cache_dir: str | os.PathLike[str] | None
    local_only: bool
    unreachable: bool = False

    def fetch(self, filename: str) -> Path:
        """The file's local path.

        Raises:
            EntryNotFoundError: not in the repository, or (``LocalEntryNotFoundError``) not
                cached while offline or while the hub is unreachable.
        """
        try:
            return Path(
                huggingface_hub.hf_hub_download(
                    self.repo_id,
                    filename,
                    revision=self.revision,
                    token=self.token,
                    cache_dir=None if self.cache_dir is None else Path(self.cache_dir),
                    local_files_only=self.local_only,
                )
            )
        except LocalEntryNotFoundError:
            if not self.local_only:
                # The hub gave no usable answer (huggingface_hub retries a refused connection
                # for about half a minute per file): the next files come from the cache or not
                # at all, rather than each waiting as long again.
                self.unreachable = self.local_only = True
            raise
        except EntryNotFoundError:
            raise  # the callers decide whether the file was optional
        except HfHubHTTPError as err:
            raise _hub_error(err, self.repo_id, self.revision, self.token) from err
        except _transfer_errors() as err:
            raise HubAccessError(
                f"downloading {filename} of {self.repo_id} from the Hugging Face Hub failed "
                f"({' '.join(str(err).split())}): retry; if it keeps failing, check your "
                "connection (or proxy) and that the Hugging Face cache directory is writable"
            ) from err

    def fetch_optional(self, filename: str) -> Path | None:
        """The file's local path, or None if the repository (or, offline, the cache) lacks it."""
        try:
            return self.fetch(filename)
        except EntryNotFoundError:
            return None


def _transfer_errors() -> tuple[type[Exception], ...]:
    """The exceptions of a download cut short, for the HTTP library huggingface_hub uses.

    ``OSError`` covers requests (huggingface_hub < 1.0) and huggingface_hub's own check of the
    size received; httpx and httpx2 (later versions) raise ``TransportError``s, which are not
    ``OSError``s. Only modules already imported count: the one huggingface_hub uses is.
    """
    errors: list[type[Exception]] = [OSError]
    for name in ("httpx", "httpx2"):
        module = sys.modules.get(name)
        if module is not None:
            errors.append(module.TransportError)
    return tuple(errors)


def _missing_file_error(
    err: EntryNotFoundError, repo_id: str, filename: str, unreachable: bool
) -> CheckpointError:
    if isinstance(err, LocalEntryNotFoundError):
        if unreachable:
            return HubAccessError(
                f"could not reach the Hugging Face Hub ({hub_constants.ENDPOINT}) to download "
                f"{filename} of {repo_id}, and it is not cached: check your connection (or "
                "proxy, or HF_ENDPOINT), then retry"
            )
        return CheckpointError(
            f"{filename} of {repo_id} is not in the local Hugging Face cache and "
            "HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) is set: download it first (e.g. "
            f"`hf download {repo_id}`) with network access, or unset HF_HUB_OFFLINE"
        )
    return NotASam3CheckpointError(
        f"the hub repository {repo_id} has no {filename}; SAM 3 weights are expected there "
        "as in facebook/sam3"
    )


def _hub_error(
    err: HfHubHTTPError, repo_id: str, revision: str | None, token: str | None
) -> CheckpointError:
    login = "pass token=... or run `hf auth login`"
    if isinstance(err, GatedRepoError):
        who = "the account of the token you passed" if token else "your account"
        return HubAccessError(
            f"{repo_id} is a gated repository and {who} has no access yet: accept the licence "
            f"on https://huggingface.co/{repo_id} (access is granted per account), then "
            f"{login} with that account's token"
        )
    if isinstance(err, RepositoryNotFoundError):
        return HubAccessError(
            f"{repo_id} was not found on the Hugging Face Hub, or it is private or gated and "
            f"you are not authenticated ({login}); if you meant a local path, it does not exist"
        )
    if isinstance(err, RevisionNotFoundError):
        return CheckpointError(f"revision {revision!r} does not exist in {repo_id}")
    status = getattr(getattr(err, "response", None), "status_code", None)
    if status in (401, 403):
        return HubAccessError(
            f"the Hugging Face Hub refused the token for {repo_id} ({status}): check it, or "
            f"{login}; for facebook/sam3 also accept the licence on "
            f"https://huggingface.co/{repo_id}"
        )
    return HubAccessError(f"the Hugging Face Hub failed to serve {repo_id} ({status}): {err}")
