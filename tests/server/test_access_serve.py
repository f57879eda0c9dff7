"""``sam3lib serve --api-key-file --cors-origin`` as a real process on loopback.

The key comes from a file while ``$SAM3LIB_API_KEY`` holds another (the file wins); the
server logs at debug level, and its whole log, startup included, must hold neither key.
"""

from __future__ import annotations

import http.client
import json
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import json_request
from helpers.serving import free_port, serving

FILE_KEY = "file-key_8c1d47e2b9"
ENV_KEY = "env-key_31f0aa6d5c"
ALLOWED = "https://app.example.com"
SECRET = "server-must-not-serve-this-5e2b"
TIMEOUT_S = 60


@dataclass
class Server:
    host: str
    port: int
    log: Path
    secret: Path  # a file the server has no business serving

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


@pytest.fixture(scope="module")
def server(tiny_checkpoint_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("serve_access")
    key_file = root / "api_key"
    key_file.write_text(f"{FILE_KEY}\n")
    secret = root / "secret.txt"
    secret.write_text(SECRET)
    port = free_port()
    command = [sys.executable, "-m", "sam3lib", "serve", "--model", str(tiny_checkpoint_dir)]
    options = ["--api-key-file", str(key_file), "--cors-origin", ALLOWED, "--log-level", "debug"]
    url = f"http://127.0.0.1:{port}"
    with ExitStack() as stack:
        with pytest.MonkeyPatch.context() as patch:  # inherited by the server as it starts
            patch.setenv("SAM3LIB_API_KEY", ENV_KEY)
            patch.chdir(root)
            stack.enter_context(
                serving([*command, *options, "--port", str(port)], f"{url}/healthz", root / "log")
            )
        yield Server("127.0.0.1", port, root / "log", secret)


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_the_key_from_the_file_guards_the_api(server: Server, photo_png: bytes) -> None:
    body = json_request(photo_png, prompts=["cat"], threshold=0.1)
    with httpx.Client(base_url=server.url, timeout=TIMEOUT_S) as client:
        assert client.get("/healthz").status_code == 200
        for headers in ({}, _bearer(ENV_KEY)):
            refused = client.post("/v1/segment", json=body, headers=headers)
            assert refused.status_code == 401
            assert refused.headers["WWW-Authenticate"] == "Bearer"
            assert refused.json()["request_id"] == refused.headers["X-Request-ID"]
        answered = client.post("/v1/segment", json=body, headers=_bearer(FILE_KEY))
    assert answered.status_code == 200, answered.text
    assert answered.json()["results"][0]["prompt"] == "cat"


def test_cors_lets_in_the_configured_origin_only(server: Server) -> None:
    preflight = {"Access-Control-Request-Method": "POST"}
    with httpx.Client(base_url=server.url, timeout=TIMEOUT_S) as client:
        allowed = client.options("/v1/segment", headers={"Origin": ALLOWED, **preflight})
        other = client.options("/v1/segment", headers={"Origin": "https://x.example", **preflight})
    assert allowed.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert "Access-Control-Allow-Origin" not in other.headers


@pytest.mark.parametrize(
    "path",
    [
        "/../../../../../../{secret}",
        "/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e{secret}",
        "/docs/..%2f..%2f..%2f..%2f..%2f..%2f..{secret}",
        "/{secret}",
        "/{name}",
        "/static/../../../../../../{secret}",
        "/v1/../../../../../../{secret}",
    ],
)
def test_no_path_reaches_a_file(server: Server, path: str) -> None:
    raw = path.format(secret=server.secret, name=server.secret.name).replace("//", "/")
    connection = http.client.HTTPConnection(server.host, server.port, timeout=TIMEOUT_S)
    try:  # http.client sends the path as is: no client-side dot removal or re-encoding
        connection.request("GET", raw, headers=_bearer(FILE_KEY))
        response = connection.getresponse()
        status, body = response.status, response.read()
    finally:
        connection.close()
    assert SECRET.encode() not in body
    assert status == 404, (raw, status)


def test_the_log_never_holds_a_key(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=TIMEOUT_S) as client:
        client.get("/v1/info", headers={"X-Request-ID": "probe-wrong", **_bearer(ENV_KEY)})
        client.get("/v1/info", headers={"X-Request-ID": "probe-right", **_bearer(FILE_KEY)})
    lines = _log_lines_until(server.log, "probe-right")
    probes = {line.get("request_id"): line for line in lines}
    assert (probes["probe-wrong"]["status"], probes["probe-wrong"]["error"]) == (
        401,
        "wrong API key",
    )
    assert probes["probe-right"]["status"] == 200
    access = [line for line in lines if line["message"] == "access"]
    assert access == [access[0] | {"api_key_required": True, "cors_origins": [ALLOWED]}]
    text = server.log.read_text()
    assert FILE_KEY not in text and ENV_KEY not in text


def _log_lines_until(log: Path, request_id: str) -> list[dict[str, Any]]:
    deadline = time.monotonic() + 10
    while True:
        lines = [json.loads(line) for line in log.read_text().splitlines() if line]
        if any(line.get("request_id") == request_id for line in lines):
            return lines
        assert time.monotonic() < deadline, f"{request_id} not logged"
        time.sleep(0.1)
