"""``sam3lib app`` over loopback serves its own files and nothing else.

One real demo process; its Gradio parent folder (``$GRADIO_TEMP_DIR``) and working directory
also hold other apps' files, and a secret lies outside both. A segmentation's download is
served (so the file route works), then every way to name another file is tried: other apps'
files in the shared Gradio folder and in ``./.gradio``, ``../``, ``%2e%2e%2f``, absolute
paths, a symlink planted in the served folder, Gradio's other file routes, and a request
handing the model a picture by path.
"""

from __future__ import annotations

import http.client
import io
import json
import sys
import urllib.parse
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from conftest import THRESHOLD
from helpers.serving import free_port, serving
from sam3lib.app.downloads import LABEL_MAP_NAME
from sam3lib.app.samples import sample_image

SECRET = "not-for-the-demo-7f3a"
TIMEOUT_S = 60


@dataclass
class Demo:
    url: str
    shared: Path  # the machine's Gradio folder: other Gradio apps' files live here
    outside: Path  # a folder the demo has no business serving


@pytest.fixture(scope="module")
def demo(tiny_checkpoint_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    root = tmp_path_factory.mktemp("served_files")
    shared, workdir, outside = root / "gradio", root / "workdir", root / "outside"
    for folder in (shared / "other-app", workdir / ".gradio" / "cached_examples", outside):
        folder.mkdir(parents=True)
        (folder / "secret.txt").write_text(SECRET)
    port = free_port()
    command = [sys.executable, "-m", "sam3lib", "app", "--model", str(tiny_checkpoint_dir)]
    with ExitStack() as stack:
        # The demo inherits the environment and working directory while it starts.
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("GRADIO_TEMP_DIR", str(shared))
            patch.delenv("GRADIO_EXAMPLES_CACHE", raising=False)
            patch.chdir(workdir)
            url = f"http://127.0.0.1:{port}"
            stack.enter_context(
                serving([*command, "--port", str(port)], f"{url}/", root / "app.log")
            )
        yield Demo(url, shared, outside)


@pytest.fixture(scope="module")
def download(demo: Demo) -> Path:
    """The label map of one segmentation, as the demo stored it (an absolute path)."""
    outputs = _segment(demo, _upload(demo))
    assert outputs is not None, "the segmentation failed"
    files = outputs[5]  # overlay, legend, instance, details, timings, downloads, ...
    (label_map,) = [item for item in files if item["orig_name"] == LABEL_MAP_NAME]
    return Path(label_map["path"])


def test_the_download_is_served_from_a_private_folder(demo: Demo, download: Path) -> None:
    response = httpx.get(f"{demo.url}/gradio_api/file={download}", timeout=TIMEOUT_S)
    assert response.status_code == 200
    with Image.open(io.BytesIO(response.content)) as label_map:
        assert label_map.size == (480, 320)
    # Inside a folder of its own, not in the Gradio folder other apps share.
    private = download.relative_to(demo.shared).parts[0]
    assert private.startswith("sam3lib-app-")
    assert (demo.shared / private).stat().st_mode & 0o077 == 0


def test_other_gradio_apps_files_are_not_served(demo: Demo) -> None:
    other_app = demo.shared / "other-app" / "secret.txt"
    _assert_refused(demo, f"/gradio_api/file={other_app}")


def test_cached_examples_of_the_working_directory_are_not_served(demo: Demo) -> None:
    _assert_refused(demo, "/gradio_api/file=.gradio/cached_examples/secret.txt")


@pytest.mark.parametrize(
    "route", ["/gradio_api/file=", "/gradio_api/file/", "/file=", "/gradio_api/file=/.."]
)
def test_absolute_paths_outside_are_refused(demo: Demo, route: str) -> None:
    _assert_refused(demo, f"{route}{demo.outside / 'secret.txt'}")


@pytest.mark.parametrize("dots", ["../", "%2e%2e%2f", "%2E%2E/", "..%2f", "%252e%252e%252f"])
def test_climbing_out_of_the_served_folder_is_refused(
    demo: Demo, download: Path, dots: str
) -> None:
    # From the download's folder, enough levels up to reach the root, then down to the secret.
    climb = dots * len(download.parent.parts)
    for route in ("/gradio_api/file=", "/gradio_api/file/", "/static/", "/assets/"):
        start = f"{download.parent}/" if "file" in route else ""
        _assert_refused(demo, f"{route}{start}{climb}{str(demo.outside).lstrip('/')}/secret.txt")


def test_a_symlink_out_of_the_served_folder_is_refused(demo: Demo, download: Path) -> None:
    link = download.parent / "link.txt"
    link.symlink_to(demo.outside / "secret.txt")
    _assert_refused(demo, f"/gradio_api/file={link}")


def test_a_picture_outside_the_upload_folder_is_not_segmented(demo: Demo) -> None:
    # The overlay would show the picture: reading one by path would leak it.
    picture = demo.outside / "secret.png"
    Image.fromarray(sample_image("shapes")).save(picture)
    assert _segment(demo, str(picture)) is None


def _assert_refused(demo: Demo, raw_path: str) -> None:
    """GET ``raw_path`` as is (no client normalises its dots): not served, secret not sent."""
    connection = http.client.HTTPConnection("127.0.0.1", urllib.parse.urlsplit(demo.url).port)
    try:
        connection.request("GET", raw_path)
        response = connection.getresponse()
        status, body = response.status, response.read()
    finally:
        connection.close()
    assert SECRET.encode() not in body, f"{raw_path} leaked the secret"
    assert status >= 400, f"{raw_path}: {status}"


def _upload(demo: Demo) -> str:
    buffer = io.BytesIO()
    Image.fromarray(sample_image("toy street")).save(buffer, format="PNG")
    files = {"files": ("street.png", buffer.getvalue(), "image/png")}
    response = httpx.post(f"{demo.url}/gradio_api/upload", files=files, timeout=TIMEOUT_S)
    response.raise_for_status()
    (path,) = response.json()
    return str(path)


def _segment(demo: Demo, picture_path: str) -> list[Any] | None:
    """Run the page's Segment on the file at ``picture_path``: its outputs, None on error."""
    picture = {"path": picture_path, "meta": {"_type": "gradio.FileData"}}
    inputs = [picture, "car", "", THRESHOLD, 0, "fp32", "auto"]
    call = f"{demo.url}/gradio_api/call/segment"
    with httpx.Client(timeout=TIMEOUT_S) as client:
        started = client.post(call, json={"data": inputs})
        started.raise_for_status()
        events = client.get(f"{call}/{started.json()['event_id']}").text
    # Server-sent events: "event: complete" then "data: [outputs]", or "event: error".
    lines = events.splitlines()
    for index, line in enumerate(lines):
        if line == "event: complete":
            return list(json.loads(lines[index + 1].removeprefix("data: ")))
    assert "event: error" in lines, events
    return None
