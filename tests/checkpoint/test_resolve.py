"""Resolving a checkpoint source: local directories and files, and the hub's cache offline.

The hub over the network (downloads, access errors, revisions, faults) is tested against a
loopback hub in ``test_hub_server.py``; here it is only made sure not to be asked, and the
cache is laid out the way huggingface_hub lays it out.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import huggingface_hub
import pytest
from checkpoint_factory import FAKE_COMMIT, populate_hub_cache

from sam3lib.checkpoint import resolve_checkpoint
from sam3lib.errors import CheckpointError, NotASam3CheckpointError

REPO = "acme/tiny-sam3"
OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


def _touch(path: Path, text: str = "{}") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture(params=OFFLINE_VARIABLES)
def offline(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Offline through one of the variables, set after huggingface_hub read the environment
    (as in a notebook), so only resolve_checkpoint reading it at call time makes it count."""
    for name in OFFLINE_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(request.param, "1")


def _fail_downloads_with(monkeypatch: pytest.MonkeyPatch, error: Exception) -> None:
    def fake_download(*args: Any, **kwargs: Any) -> str:
        raise error

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)


# --- local sources ----------------------------------------------------------------------------


def test_directory_gives_weights_config_and_tokenizer_files(tmp_path: Path) -> None:
    weights = _touch(tmp_path / "model.safetensors")
    config = _touch(tmp_path / "config.json")
    vocab, merges = _touch(tmp_path / "vocab.json"), _touch(tmp_path / "merges.txt")
    resolved = resolve_checkpoint(tmp_path)
    assert resolved.weights_path == weights
    assert resolved.config_path == config
    assert dict(resolved.tokenizer_files) == {"vocab.json": vocab, "merges.txt": merges}


def test_directory_with_only_meta_weights(tmp_path: Path) -> None:
    weights = _touch(tmp_path / "sam3.pt")
    resolved = resolve_checkpoint(str(tmp_path))
    assert resolved.weights_path == weights
    assert resolved.config_path is None
    assert not resolved.tokenizer_files


def test_directory_prefers_safetensors_over_meta_weights(tmp_path: Path) -> None:
    _touch(tmp_path / "sam3.pt")
    weights = _touch(tmp_path / "model.safetensors")
    assert resolve_checkpoint(tmp_path).weights_path == weights


def test_directory_without_weights_is_not_a_checkpoint(tmp_path: Path) -> None:
    _touch(tmp_path / "config.json")
    with pytest.raises(NotASam3CheckpointError, match=r"model\.safetensors"):
        resolve_checkpoint(tmp_path)


@pytest.mark.parametrize("name", ["weights.safetensors", "sam3.pt", "sam3.pth"])
def test_a_single_file_is_just_weights(tmp_path: Path, name: str) -> None:
    _touch(tmp_path / "config.json")  # a file is weights only: its neighbours are not read
    path = _touch(tmp_path / name)
    resolved = resolve_checkpoint(path)
    assert (resolved.weights_path, resolved.config_path) == (path, None)


def test_a_file_that_is_not_weights_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not a weights file"):
        resolve_checkpoint(_touch(tmp_path / "notes.txt"))


@pytest.mark.parametrize("missing", ["missing/sam3.pt", "./acme/tiny-sam3", "/no/such/dir"])
def test_a_missing_local_path_is_an_error_not_a_hub_lookup(
    missing: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fail_downloads_with(monkeypatch, AssertionError("the hub must not be asked"))
    with pytest.raises(CheckpointError, match="does not exist"):
        resolve_checkpoint(missing)


# --- the hub's cache, offline ------------------------------------------------------------------


def test_hub_repo_resolves_from_the_cache_when_offline(offline: None, tmp_path: Path) -> None:
    files = {
        n: _touch(tmp_path / "src" / n)
        for n in ("config.json", "model.safetensors", "tokenizer.json")
    }
    snapshot = populate_hub_cache(tmp_path / "cache", REPO, files)
    resolved = resolve_checkpoint(REPO, cache_dir=tmp_path / "cache")
    assert resolved.source == REPO
    assert resolved.weights_path == snapshot / "model.safetensors"
    assert resolved.config_path == snapshot / "config.json"
    assert dict(resolved.tokenizer_files) == {"tokenizer.json": snapshot / "tokenizer.json"}


def test_hub_revision_selects_the_snapshot(offline: None, tmp_path: Path) -> None:
    snapshot = populate_hub_cache(
        tmp_path / "cache", REPO, {"model.safetensors": _touch(tmp_path / "w")}
    )
    resolved = resolve_checkpoint(REPO, revision=FAKE_COMMIT, cache_dir=tmp_path / "cache")
    assert resolved.weights_path == snapshot / "model.safetensors"
    with pytest.raises(CheckpointError, match="HF_HUB_OFFLINE"):
        resolve_checkpoint(REPO, revision="f" * 40, cache_dir=tmp_path / "cache")
