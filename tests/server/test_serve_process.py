"""``sam3lib serve`` as a real process on loopback: 50 concurrent requests, bad ones, logs."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from conftest import THRESHOLD, assert_same_results, json_request, picture, png_bytes
from helpers.serving import free_port, serving
from sam3lib import Segmenter
from sam3lib.server.limits import MEBIBYTE

REQUESTS = 50
ALL_ANSWERS_TIMEOUT_S = 300


@dataclass
class Server:
    url: str
    log: Path


@pytest.fixture(scope="module")
def server(tiny_checkpoint_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    port = free_port()
    command = [sys.executable, "-m", "sam3lib", "serve", "--model", str(tiny_checkpoint_dir)]
    url = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("serve") / "server.log"
    with serving([*command, "--port", str(port)], f"{url}/healthz", log):
        yield Server(url, log)


def test_fifty_concurrent_requests_all_answer_correctly(
    server: Server, segmenter: Segmenter, tmp_path: Path
) -> None:
    inputs: list[tuple[bytes, dict[str, Any]]] = [
        (png_bytes(picture(190, 250, seed=7)), {"prompts": ["cat"]}),
        (png_bytes(picture(160, 120, seed=8)), {"prompts": ["red car", "dog"]}),
        (png_bytes(picture(100, 140, seed=9)), {"boxes": [[10, 10, 80, 60]]}),
    ]
    expected = []
    for image, options in inputs:
        path = tmp_path / "image.png"
        path.write_bytes(image)
        want = segmenter.segment(
            path,
            options.get("prompts"),
            threshold=THRESHOLD,
            **{key: value for key, value in options.items() if key != "prompts"},
        )
        expected.append(want if isinstance(want, list) else [want])
    assert sum(len(result) for results in expected for result in results) > 0

    def ask(index: int) -> tuple[int, httpx.Response]:
        image, options = inputs[index % len(inputs)]
        body = json_request(image, threshold=THRESHOLD, **options)
        headers = {"X-Request-ID": f"load-{index}"}
        with httpx.Client(timeout=ALL_ANSWERS_TIMEOUT_S) as client:
            return index, client.post(f"{server.url}/v1/segment", json=body, headers=headers)

    with ThreadPoolExecutor(max_workers=REQUESTS) as pool:
        futures = [pool.submit(ask, index) for index in range(REQUESTS)]
        done, pending = wait(futures, timeout=ALL_ANSWERS_TIMEOUT_S)
    assert not pending, f"{len(pending)} requests unanswered after {ALL_ANSWERS_TIMEOUT_S} s"
    for future in done:
        index, response = future.result()
        assert response.status_code == 200, response.text
        assert response.headers["X-Request-ID"] == f"load-{index}"
        assert_same_results(response.json()["results"], expected[index % len(inputs)])


@pytest.mark.parametrize(
    ("kind", "status"),
    [("bad base64", 422), ("text file as image", 422), ("missing prompt", 422), ("20 MB", 413)],
)
def test_malformed_requests_over_the_network(server: Server, kind: str, status: int) -> None:
    url = f"{server.url}/v1/segment"
    image = png_bytes(picture(50, 60, seed=1))
    with httpx.Client(timeout=60) as client:
        if kind == "bad base64":
            response = client.post(url, json={"image": "%%%", "prompts": ["cat"]})
        elif kind == "text file as image":
            files = {"image": ("a.txt", b"just some text", "text/plain")}
            response = client.post(url, data={"prompts": "cat"}, files=files)
        elif kind == "missing prompt":
            response = client.post(url, json=json_request(image))
        else:
            files = {"image": ("big.png", b"\1" * (20 * MEBIBYTE), "image/png")}
            response = client.post(url, data={"prompts": "cat"}, files=files)
    assert response.status_code == status, response.text
    assert response.json()["detail"]
    assert "Traceback" not in response.text


def test_clicks_on_a_detector_only_checkpoint_get_409(server: Server) -> None:
    body = json_request(png_bytes(picture(50, 60, seed=1)), points=[[10, 10]])
    with httpx.Client(timeout=60) as client:
        info = client.get(f"{server.url}/v1/info").json()
        response = client.post(f"{server.url}/v1/predict", json=body)
    assert info["interactive"] is False
    assert response.status_code == 409, response.text
    assert "no interactive (tracker) head" in response.json()["detail"]


def test_binds_loopback_logs_json_and_serves_the_schema(server: Server) -> None:
    with httpx.Client(timeout=30) as client:
        info = client.get(f"{server.url}/v1/info").json()
        schema = client.get(f"{server.url}/openapi.json").json()
        client.get(f"{server.url}/healthz", headers={"X-Request-ID": "log-probe"})
    assert info["backend"] == "eager"
    assert {"/v1/segment", "/v1/predict", "/v1/generate"} <= set(schema["paths"])
    deadline = time.monotonic() + 10
    lines: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        lines = [json.loads(line) for line in server.log.read_text().splitlines() if line]
        if any(line.get("request_id") == "log-probe" for line in lines):
            break
        time.sleep(0.1)
    assert any(line.get("request_id") == "log-probe" and line["status"] == 200 for line in lines)
    assert any("http://127.0.0.1:" in line["message"] for line in lines)
