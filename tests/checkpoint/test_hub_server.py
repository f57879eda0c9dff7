"""Checkpoints from a Hugging Face Hub on loopback, through the real ``huggingface_hub`` client.

Every scenario runs in a fresh interpreter (forked from a zygote that imported only torch, see
``helpers.fresh_python``; the command line runs as a new process) whose environment points
``HF_ENDPOINT`` at ``helpers.fake_hub`` and ``HF_HOME`` at the test's own directory, so no
module state or cache carries from one scenario to the next.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from helpers.fake_hub import FakeHub, serving_hub
from helpers.fresh_python import Zygote, zygote

REPO = "acme/tiny-sam3"
GATED = "acme/gated-sam3"
GRANTED_TOKEN = "hf_granted"
CHECKPOINT_FILES = ("config.json", "model.safetensors", "vocab.json", "merges.txt")
# Variables of the calling shell that would change what the client does.
_CLIENT_VARIABLES = ("HF_", "HUGGINGFACE_", "TRANSFORMERS_OFFLINE")
# What a child's own scenario needs in seconds; the zygote answers even if a child hangs.
CALL_TIMEOUT_S = 120


@pytest.fixture(scope="module")
def tiny_files(tiny_checkpoint_dir: Path) -> dict[str, bytes]:
    """The tiny checkpoint's files, as a repository holds them."""
    return {name: (tiny_checkpoint_dir / name).read_bytes() for name in CHECKPOINT_FILES}


@pytest.fixture(scope="module")
def hub_server() -> Iterator[FakeHub]:
    with serving_hub() as hub:
        yield hub


@pytest.fixture
def hub(hub_server: FakeHub, tiny_files: dict[str, bytes]) -> FakeHub:
    """The loopback hub holding :data:`REPO` (public) and :data:`GATED`, nothing else."""
    hub_server.reset()
    hub_server.add_repo(REPO, tiny_files)
    hub_server.add_repo(GATED, tiny_files, gated_for={GRANTED_TOKEN})
    return hub_server


@pytest.fixture(scope="module")
def python(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Zygote]:
    # Building a model on the meta device imports torch._dynamo: seconds, and no hub state.
    with zygote(["torch", "torch._dynamo"], tmp_path_factory.mktemp("zygote")) as process:
        yield process


@pytest.fixture
def env(hub: FakeHub, tmp_path: Path) -> dict[str, str]:
    """A user's environment with this test's hub and Hugging Face home (empty cache)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(_CLIENT_VARIABLES)}
    return base | {"HF_ENDPOINT": hub.url, "HF_HOME": str(tmp_path / "hf_home")}


def _call(python: Zygote, function: str, env: dict[str, str], **kwargs: Any) -> dict[str, Any]:
    """``helpers.hub_client.<function>`` in a fresh interpreter; its JSON answer."""
    run = python.call(f"helpers.hub_client:{function}", env=env, timeout_s=CALL_TIMEOUT_S, **kwargs)
    assert run.exit_code == 0, f"the interpreter failed:\n{run.stderr}"
    answer: dict[str, Any] = run.value
    return answer


def _result(answer: dict[str, Any]) -> Any:
    assert "error" not in answer, f"{answer['error']}: {answer['message']}"
    return answer["result"]


def _error(answer: dict[str, Any], expected: str) -> str:
    """The message of the sam3lib error in ``answer``, checked to be an ``expected``."""
    assert "error" in answer, f"expected {expected}, got {answer['result']}"
    assert expected in answer["classes"], f"{answer['error']} is no {expected}"
    message: str = answer["message"]
    return message


def _snapshot(env: dict[str, str], repo_id: str, commit: str, cache: Path | None = None) -> Path:
    """Where huggingface_hub keeps ``repo_id`` at ``commit``: in ``cache`` if given, else in
    the default cache under the test's HF_HOME."""
    folder = "models--" + repo_id.replace("/", "--")
    root = Path(env["HF_HOME"]) / "hub" if cache is None else cache
    return root / folder / "snapshots" / commit


# --- downloads ---------------------------------------------------------------------------------


def test_children_start_without_hub_or_sam3lib_modules(python: Zygote, env: dict[str, str]) -> None:
    assert _result(_call(python, "modules_loaded_at_start", env)) == []


def test_first_download_caches_the_files_with_a_progress_bar_each(
    python: Zygote, hub: FakeHub, env: dict[str, str], tiny_files: dict[str, bytes]
) -> None:
    run = python.call(
        "helpers.hub_client:resolve", env=env, terminal=True, repo_id=REPO, timeout_s=60
    )
    assert run.exit_code == 0, run.stderr
    paths = _result(run.value)

    snapshot = _snapshot(env, REPO, hub.head(REPO))
    assert paths == {
        "weights": str(snapshot / "model.safetensors"),
        "config": str(snapshot / "config.json"),
        "tokenizer": {name: str(snapshot / name) for name in ("vocab.json", "merges.txt")},
    }
    for name, content in tiny_files.items():
        assert (snapshot / name).read_bytes() == content
    # What a user sees on a terminal: the client's progress bar per file, finished.
    for name in tiny_files:
        assert any(name in line and "100%" in line for line in run.stderr.splitlines()), name
    fetched = {r.filename for r in hub.requests() if r.method == "GET" and r.status == 200}
    assert fetched == set(tiny_files)
    # tokenizer.json is asked for, answered EntryNotFound, and not an error.
    assert [(r.method, r.status) for r in hub.requests(REPO, "tokenizer.json")] == [("HEAD", 404)]


def test_a_cached_checkpoint_loads_offline_without_asking_the_hub(
    python: Zygote, hub: FakeHub, env: dict[str, str]
) -> None:
    online = _result(_call(python, "resolve", env, repo_id=REPO))
    asked = len(hub.requests())

    loaded = _result(_call(python, "load", env | {"HF_HUB_OFFLINE": "1"}, repo_id=REPO))

    assert loaded["weights"] == online["weights"]
    assert loaded["parameters"] > 0
    assert len(hub.requests()) == asked


def test_offline_with_nothing_cached_says_to_download_first(
    python: Zygote, hub: FakeHub, env: dict[str, str]
) -> None:
    answer = _call(python, "resolve", env | {"HF_HUB_OFFLINE": "1"}, repo_id=REPO)
    message = _error(answer, "CheckpointError")
    assert "HubAccessError" not in answer["classes"]  # not a network problem: a setting
    assert "HF_HUB_OFFLINE" in message
    assert f"hf download {REPO}" in message
    assert hub.requests() == []


# --- access --------------------------------------------------------------------------------------


def test_gated_repo_without_a_token_says_to_accept_the_licence_and_log_in(
    python: Zygote, hub: FakeHub, env: dict[str, str]
) -> None:
    message = _error(_call(python, "resolve", env, repo_id=GATED), "HubAccessError")
    assert f"https://huggingface.co/{GATED}" in message
    assert "licence" in message and "hf auth login" in message
    assert {(r.status, r.authorization) for r in hub.requests(GATED)} == {(401, None)}


def test_gated_repo_with_a_token_lacking_access_names_that_token(
    python: Zygote, hub: FakeHub, env: dict[str, str]
) -> None:
    hub.accounts.add("hf_other_account")
    answer = _call(python, "resolve", env, repo_id=GATED, token="hf_other_account")
    assert "token you passed" in _error(answer, "HubAccessError")
    assert {(r.status, r.authorization) for r in hub.requests(GATED)} == {
        (403, "Bearer hf_other_account")
    }


def test_gated_repo_with_a_granted_token_from_the_environment_segments(
    python: Zygote,
    hub: FakeHub,
    env: dict[str, str],
    tmp_path: Path,
    photo: npt.NDArray[np.uint8],
) -> None:
    image = tmp_path / "photo.png"
    Image.fromarray(photo).save(image)
    answer = _call(
        python,
        "segment",
        env | {"HF_TOKEN": GRANTED_TOKEN},
        repo_id=GATED,
        image=str(image),
        prompt="red car",
    )
    assert _result(answer)["label"] == "red car"
    assert {r.authorization for r in hub.requests(GATED)} == {f"Bearer {GRANTED_TOKEN}"}


def test_an_unknown_token_is_refused(python: Zygote, hub: FakeHub, env: dict[str, str]) -> None:
    answer = _call(python, "resolve", env, repo_id=REPO, token="hf_revoked")
    assert "refused the token" in _error(answer, "HubAccessError")


def test_an_unknown_repo_is_an_access_error_that_mentions_local_paths(
    python: Zygote, hub: FakeHub, env: dict[str, str]
) -> None:
    message = _error(_call(python, "resolve", env, repo_id="acme/no-such-model"), "HubAccessError")
    assert "acme/no-such-model was not found" in message
    assert "local path" in message


def test_a_repo_without_weights_is_not_a_sam3_checkpoint(
    python: Zygote, hub: FakeHub, env: dict[str, str], tiny_files: dict[str, bytes]
) -> None:
    hub.add_repo("acme/config-only", {"config.json": tiny_files["config.json"]})
    answer = _call(python, "resolve", env, repo_id="acme/config-only")
    assert "model.safetensors" in _error(answer, "NotASam3CheckpointError")


def test_an_endpoint_that_is_no_hub_is_an_access_error_after_one_request(
    python: Zygote, hub: FakeHub, env: dict[str, str]
) -> None:
    hub.act_as_a_portal()
    message = _error(_call(python, "resolve", env, repo_id=REPO), "HubAccessError")
    assert "could not reach" in message and hub.url in message and "HF_ENDPOINT" in message
    # The files after the first are looked for in the cache only: one answer was enough.
    assert [(r.method, r.filename) for r in hub.requests(REPO)] == [("HEAD", "config.json")]


# --- revisions -----------------------------------------------------------------------------------


@pytest.mark.parametrize("revision_kind", ["branch", "commit"])
def test_a_revision_selects_that_commits_files(
    python: Zygote,
    hub: FakeHub,
    env: dict[str, str],
    tiny_files: dict[str, bytes],
    revision_kind: str,
    tmp_path: Path,
) -> None:
    older_config = tiny_files["config.json"] + b"\n"  # any other content marks the commit
    old = hub.commit(REPO, tiny_files | {"config.json": older_config}, branch="v1")
    hub.commit(REPO, tiny_files | {"config.json": b"{}"})  # main moves on

    revision = "v1" if revision_kind == "branch" else old
    cache = tmp_path / "models"
    answer = _call(python, "resolve", env, repo_id=REPO, revision=revision, cache_dir=str(cache))
    paths = _result(answer)

    assert Path(paths["config"]) == _snapshot(env, REPO, old, cache) / "config.json"
    assert Path(paths["config"]).read_bytes() == older_config
    assert {r.revision for r in hub.requests(REPO)} == {revision}


def test_an_unknown_revision_is_a_checkpoint_error_not_an_access_error(
    python: Zygote, hub: FakeHub, env: dict[str, str]
) -> None:
    answer = _call(python, "resolve", env, repo_id=REPO, revision="v9")
    assert "'v9'" in _error(answer, "CheckpointError")
    assert "HubAccessError" not in answer["classes"]


# --- faults in transit ----------------------------------------------------------------------------


def test_a_connection_dropped_mid_file_is_retried_to_an_intact_file(
    python: Zygote, hub: FakeHub, env: dict[str, str], tiny_files: dict[str, bytes]
) -> None:
    hub.drop_connection(REPO, "model.safetensors", times=1)
    paths = _result(_call(python, "resolve", env, repo_id=REPO))
    assert Path(paths["weights"]).read_bytes() == tiny_files["model.safetensors"]
    assert [r.method for r in hub.requests(REPO, "model.safetensors")] == ["HEAD", "GET", "GET"]


@pytest.mark.parametrize(
    ("fault", "filename"),
    [
        ("hang_up", "config.json"),  # closes the connection before answering
        ("shorten", "model.safetensors"),  # sends fewer bytes than the HEAD announced
    ],
)
def test_a_failed_transfer_is_an_access_error_saying_to_retry(
    python: Zygote, hub: FakeHub, env: dict[str, str], fault: str, filename: str
) -> None:
    getattr(hub, fault)(REPO, filename)
    message = _error(_call(python, "resolve", env, repo_id=REPO), "HubAccessError")
    assert filename in message and "retry" in message


def test_weights_damaged_in_transit_are_a_corrupt_checkpoint_when_loaded(
    python: Zygote, hub: FakeHub, env: dict[str, str]
) -> None:
    hub.corrupt(REPO, "model.safetensors")
    message = _error(_call(python, "load", env, repo_id=REPO), "CorruptCheckpointError")
    assert str(_snapshot(env, REPO, hub.head(REPO)) / "model.safetensors") in message


# --- the command line, a new process --------------------------------------------------------------


def _sam3lib(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """The installed ``sam3lib`` command, as a user runs it (nothing imported beforehand)."""
    command = Path(sys.executable).with_name("sam3lib")
    return subprocess.run(
        [str(command), *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=300
    )


def test_segment_command_downloads_from_the_hub_and_writes_json(
    hub: FakeHub, env: dict[str, str], tmp_path: Path, photo: npt.NDArray[np.uint8]
) -> None:
    Image.fromarray(photo).save(tmp_path / "photo.png")
    done = _sam3lib(
        "segment",
        "photo.png",
        "--prompt",
        "red car",
        "--model",
        REPO,
        "--json",
        "out.json",
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "out.json").read_text())
    assert report["model"] == REPO
    [image] = report["images"]
    assert image["image"] == "photo.png"
    assert [result["label"] for result in image["results"]] == ["red car"]
    assert {r.filename for r in hub.requests(REPO) if r.method == "GET"} == set(CHECKPOINT_FILES)


def test_segment_command_on_a_gated_repo_without_a_token_fails_with_one_line(
    python: Zygote, hub: FakeHub, env: dict[str, str], tmp_path: Path, photo: npt.NDArray[np.uint8]
) -> None:
    # The command's own main() in a fresh interpreter: the installed script runs just that
    # (see the test above), without importing torch once more.
    image, out = tmp_path / "photo.png", tmp_path / "out.json"
    Image.fromarray(photo).save(image)
    argv = ["segment", str(image), "--prompt", "red car", "--model", GATED, "--json", str(out)]
    run = python.call("helpers.hub_client:command", env=env, argv=argv)
    assert run.exit_code == 0, f"the command raised:\n{run.stderr}"
    assert run.value["result"] == 1
    [line] = run.stderr.strip().splitlines()
    assert line.startswith("error: ") and "gated repository" in line and "hf auth login" in line
    assert not out.exists()
