"""Resolving a checkpoint source: local directories and files, and the Hugging Face Hub.

The hub is never contacted: tests either run with ``HF_HUB_OFFLINE=1`` against a cache laid out
the way huggingface_hub lays it out, or replace ``hf_hub_download`` to raise the hub's errors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx2
import huggingface_hub
import pytest
from checkpoint_factory import FAKE_COMMIT, populate_hub_cache
from huggingface_hub.errors import (
    GatedRepoError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from sam3lib.checkpoint import resolve_checkpoint
from sam3lib.errors import CheckpointError, HubAccessError, NotASam3CheckpointError

REPO = "acme/tiny-sam3"


def _touch(path: Path, text: str = "{}") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _hub_error(cls: type[HfHubHTTPError], status: int) -> HfHubHTTPError:
    request = httpx2.Request("GET", f"https://huggingface.co/{REPO}/resolve/main/config.json")
    return cls(f"{status} Client Error", response=httpx2.Response(status, request=request))


@pytest.fixture
def online(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


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


# --- the hub, through huggingface_hub's real cache logic ---------------------------------------


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


def test_offline_with_nothing_cached_says_how_to_fix_it(offline: None, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError) as caught:
        resolve_checkpoint("facebook/sam3", cache_dir=tmp_path)
    assert not isinstance(caught.value, HubAccessError)
    message = str(caught.value)
    assert "HF_HUB_OFFLINE" in message
    assert "hf download facebook/sam3" in message


def test_hub_downloads_only_the_needed_files_with_the_callers_options(
    online: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[dict[str, Any]] = []

    def fake_download(repo_id: str, filename: str, **kwargs: Any) -> str:
        calls.append({"repo_id": repo_id, "filename": filename, **kwargs})
        if filename == "vocab.json":
            raise _hub_error(RemoteEntryNotFoundError, 404)
        return str(_touch(tmp_path / filename))

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    resolved = resolve_checkpoint(REPO, revision="v1", token="hf_x", cache_dir=tmp_path / "c")

    requested = {call["filename"] for call in calls}
    assert requested == {
        "config.json",
        "model.safetensors",
        "tokenizer.json",
        "vocab.json",
        "merges.txt",
    }
    for call in calls:
        assert call["repo_id"] == REPO
        assert (call["revision"], call["token"]) == ("v1", "hf_x")
        assert Path(call["cache_dir"]) == tmp_path / "c"
        assert call["local_files_only"] is False
    assert set(resolved.tokenizer_files) == {"tokenizer.json", "merges.txt"}


# --- hub errors, translated --------------------------------------------------------------------


def test_gated_repo_says_to_accept_the_licence_and_log_in(
    online: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fail_downloads_with(monkeypatch, _hub_error(GatedRepoError, 403))
    with pytest.raises(HubAccessError) as caught:
        resolve_checkpoint("facebook/sam3")
    message = str(caught.value)
    assert "https://huggingface.co/facebook/sam3" in message
    assert "licence" in message
    assert "token=" in message and "hf auth login" in message


def test_gated_repo_with_a_token_says_that_token_lacks_access(
    online: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fail_downloads_with(monkeypatch, _hub_error(GatedRepoError, 403))
    with pytest.raises(HubAccessError, match="token you passed"):
        resolve_checkpoint("facebook/sam3", token="hf_not_granted")


def test_a_rejected_token_is_an_access_error(online: None, monkeypatch: pytest.MonkeyPatch) -> None:
    _fail_downloads_with(monkeypatch, _hub_error(HfHubHTTPError, 401))
    with pytest.raises(HubAccessError, match="refused the token"):
        resolve_checkpoint("facebook/sam3", token="hf_bad")


def test_unknown_repo_is_an_access_error_mentioning_local_paths(
    online: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fail_downloads_with(monkeypatch, _hub_error(RepositoryNotFoundError, 404))
    with pytest.raises(HubAccessError, match="local path"):
        resolve_checkpoint(REPO)


def test_unknown_revision_is_a_checkpoint_error(
    online: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fail_downloads_with(monkeypatch, _hub_error(RevisionNotFoundError, 404))
    with pytest.raises(CheckpointError, match="'v9'") as caught:
        resolve_checkpoint(REPO, revision="v9")
    assert not isinstance(caught.value, HubAccessError)


def test_a_repo_without_weights_is_not_a_checkpoint(
    online: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fake_download(repo_id: str, filename: str, **kwargs: Any) -> str:
        if filename == "model.safetensors":
            raise _hub_error(RemoteEntryNotFoundError, 404)
        return str(_touch(tmp_path / filename))

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_download)
    with pytest.raises(NotASam3CheckpointError, match=r"model\.safetensors"):
        resolve_checkpoint(REPO)


def test_an_unreachable_hub_is_an_access_error(
    online: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fail_downloads_with(monkeypatch, LocalEntryNotFoundError("connection refused, not cached"))
    with pytest.raises(HubAccessError, match="connection"):
        resolve_checkpoint(REPO)
