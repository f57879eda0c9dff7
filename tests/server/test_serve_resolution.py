"""``sam3lib serve --resolution`` as a real process on loopback: the model runs at that input
size (the answers are a Segmenter's at that size), ``/v1/info`` reports it, and a size the model
cannot run stops the server before it listens."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from conftest import THRESHOLD, assert_same_results, json_request, picture, png_bytes
from helpers.serving import free_port, serving
from sam3lib import Segmenter

SIZE = 252  # the tiny model's own is 168


def test_the_server_runs_the_model_at_the_resolution_and_reports_it(
    tiny_checkpoint_dir: Path, segmenter: Segmenter, tmp_path: Path
) -> None:
    image = picture(190, 250, seed=7)
    want = Segmenter.from_pretrained(tiny_checkpoint_dir, resolution=SIZE).segment(
        image, ["cat", "red car"], threshold=THRESHOLD
    )
    at_own_size = segmenter.segment(image, ["cat", "red car"], threshold=THRESHOLD)
    assert [r.scores.tolist() for r in want] != [r.scores.tolist() for r in at_own_size]

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "sam3lib", "serve", "--model", str(tiny_checkpoint_dir)]
    command += ["--resolution", str(SIZE), "--port", str(port)]
    with (
        serving(command, f"{url}/healthz", tmp_path / "server.log"),
        httpx.Client(timeout=120) as client,
    ):
        info = client.get(f"{url}/v1/info").json()
        body = json_request(png_bytes(image), prompts=["cat", "red car"], threshold=THRESHOLD)
        answer = client.post(f"{url}/v1/segment", json=body)
    assert (info["resolution"], info["mask_input_size"]) == (SIZE, 4 * SIZE // 14)
    assert answer.status_code == 200, answer.text
    assert_same_results(answer.json()["results"], want)


def test_a_resolution_the_model_cannot_run_stops_the_server_before_it_listens(
    tiny_checkpoint_dir: Path,
) -> None:
    command = [sys.executable, "-m", "sam3lib", "serve", "--model", str(tiny_checkpoint_dir)]
    command += ["--resolution", "170", "--port", str(free_port())]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1
    assert "error: resolution: 170 does not run" in done.stderr
    assert "Uvicorn running" not in done.stderr
