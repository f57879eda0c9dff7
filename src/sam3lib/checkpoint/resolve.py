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
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import huggingface_hub
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
        HubAccessError: if the hub refuses access (gated, private, bad token) or is unreachable.
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
    """Whether ``HF_HUB_OFFLINE`` is set, read now (huggingface_hub reads it once, at import)."""
    from_environment = os.environ.get("HF_HUB_OFFLINE", "").upper() in _TRUE_VALUES
    return huggingface_hub.constants.HF_HUB_OFFLINE or from_environment


def _resolve_hub(
    repo_id: str,
    *,
    revision: str | None,
    token: str | None,
    cache_dir: str | os.PathLike[str] | None,
) -> ResolvedCheckpoint:
    offline = _hub_offline()

    def download(filename: str) -> Path:
        try:
            return Path(
                huggingface_hub.hf_hub_download(
                    repo_id,
                    filename,
                    revision=revision,
                    token=token,
                    cache_dir=None if cache_dir is None else Path(cache_dir),
                    local_files_only=offline,
                )
            )
        except EntryNotFoundError:
            raise  # the callers decide whether the file was optional
        except HfHubHTTPError as err:
            raise _hub_error(err, repo_id, revision, token) from err

    def download_optional(filename: str) -> Path | None:
        try:
            return download(filename)
        except EntryNotFoundError:
            return None  # absent from the repository, or from the cache when offline

    # config.json first: it is small, so access problems show up before a large download.
    config = download_optional(CONFIG_FILENAME)
    tokenizer = {name: download_optional(name) for name in TOKENIZER_FILENAMES}
    try:
        weights = download(HUB_WEIGHTS_FILENAME)
    except EntryNotFoundError as err:
        raise _missing_file_error(err, repo_id, HUB_WEIGHTS_FILENAME, offline) from err
    return ResolvedCheckpoint(
        repo_id, weights, config, {name: p for name, p in tokenizer.items() if p is not None}
    )


def _missing_file_error(
    err: EntryNotFoundError, repo_id: str, filename: str, offline: bool
) -> CheckpointError:
    if isinstance(err, LocalEntryNotFoundError):
        if offline:
            return CheckpointError(
                f"{filename} of {repo_id} is not in the local Hugging Face cache and "
                f"HF_HUB_OFFLINE is set: download it first (e.g. `hf download {repo_id}`) with "
                "network access, or unset HF_HUB_OFFLINE"
            )
        return HubAccessError(
            f"could not reach the Hugging Face Hub to download {filename} of {repo_id}, and "
            "it is not cached: check your connection (or proxy), then retry"
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
