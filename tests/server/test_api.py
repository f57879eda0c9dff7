"""The HTTP API in-process (FastAPI's test client): answers, formats, errors, ids, logs."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from conftest import (
    THRESHOLD,
    assert_same_results,
    captured_log,
    json_request,
    picture,
    png_bytes,
)
from sam3lib import Segmenter
from sam3lib.server.app import create_app
from sam3lib.server.limits import MEBIBYTE, ServerLimits


@pytest.fixture(scope="module")
def client(segmenter: Segmenter) -> Iterator[TestClient]:
    with TestClient(create_app(segmenter, model_name="tiny")) as test_client:
        yield test_client


def test_json_request_answers_what_the_segmenter_does(
    client: TestClient, segmenter: Segmenter, photo_png: bytes
) -> None:
    options = {"threshold": THRESHOLD, "boxes": [[10, 10, 120, 100]], "refine": 2}
    response = client.post(
        "/v1/segment", json=json_request(photo_png, prompts=["cat", "red car"], **options)
    )
    assert response.status_code == 200, response.text
    data = response.json()
    want = segmenter.segment(Image.open(io.BytesIO(photo_png)), ["cat", "red car"], **options)
    assert sum(len(result) for result in want) > 0  # the comparison covers real instances
    assert_same_results(data["results"], want)
    assert data["image_size"] == [190, 250]
    assert data["model"] == "tiny"
    assert {"queue", "segment", "encode", "total"} <= set(data["timings"])
    assert {"encode_image", "decode", "postprocess"} <= set(data["results"][0]["timings"])


def test_multipart_upload_with_png_masks(
    client: TestClient, segmenter: Segmenter, photo_png: bytes
) -> None:
    form = {"prompts": ["cat", "dog"], "threshold": str(THRESHOLD), "mask_format": "png"}
    form |= {"boxes": "[[20, 30, 200, 150]]", "box_labels": "[0]"}
    response = client.post(
        "/v1/segment", data=form, files={"image": ("photo.png", photo_png, "image/png")}
    )
    assert response.status_code == 200, response.text
    want = segmenter.segment(
        Image.open(io.BytesIO(photo_png)),
        ["cat", "dog"],
        boxes=[[20, 30, 200, 150]],
        box_labels=[0],
        threshold=THRESHOLD,
    )
    assert_same_results(response.json()["results"], want, mask_format="png")


def test_boxes_only_and_polygons(
    client: TestClient, segmenter: Segmenter, photo_png: bytes
) -> None:
    body = json_request(
        photo_png, boxes=[[10, 10, 120, 100]], threshold=THRESHOLD, mask_format="polygons"
    )
    response = client.post("/v1/segment", json=body)
    assert response.status_code == 200, response.text
    (answer,) = response.json()["results"]
    want = segmenter.segment(
        Image.open(io.BytesIO(photo_png)), boxes=[[10, 10, 120, 100]], threshold=THRESHOLD
    )
    assert answer["label"] == "exemplar"
    assert [i["segmentation"] for i in answer["instances"]] == want.to_polygons()


def test_info_health_and_openapi(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    info = client.get("/v1/info").json()
    assert info["model"] == "tiny"
    assert (info["backend"], info["precision"], info["device"]) == ("eager", "fp32", "cpu")
    assert info["limits"]["max_request_bytes"] == 10 * MEBIBYTE
    schema = client.get("/openapi.json").json()
    body = schema["paths"]["/v1/segment"]["post"]["requestBody"]["content"]
    assert set(body) == {"application/json", "multipart/form-data"}
    assert "prompts" in body["application/json"]["schema"]["properties"]
    assert {"200", "413", "422", "503"} <= set(schema["paths"]["/v1/segment"]["post"]["responses"])
    assert client.get("/docs").status_code == 200


@pytest.mark.parametrize(
    ("kind", "status", "message"),
    [
        ("bad base64", 422, "image: not valid base64"),
        ("text file as image", 422, "image: not a readable image"),
        ("missing prompt", 422, "prompt: give a text prompt"),
        ("20 MB upload", 413, "over the limit of 10 MiB"),
        ("not JSON", 422, "body: not valid JSON"),
        ("threshold out of range", 422, "threshold: Input should be less than or equal to 1"),
        ("unknown field", 422, "prompt: Extra inputs are not permitted"),
        ("inverted box", 422, "boxes[0]"),
        ("no image field", 422, "image: missing"),
        ("plain text body", 415, "content-type"),
    ],
)
def test_malformed_requests_get_a_4xx_with_a_message(
    client: TestClient, photo_png: bytes, kind: str, status: int, message: str
) -> None:
    response = _malformed_request(client, photo_png, kind)
    assert response.status_code == status, response.text
    data = response.json()
    assert message in data["detail"]
    assert data["request_id"] == response.headers["X-Request-ID"]
    assert "Traceback" not in response.text


def _malformed_request(client: TestClient, photo_png: bytes, kind: str) -> Any:
    url = "/v1/segment"
    if kind == "bad base64":
        return client.post(url, json={"image": "not base64!", "prompts": ["cat"]})
    if kind == "text file as image":
        text = ("image", ("notes.txt", b"hello, this is text\n" * 20, "text/plain"))
        return client.post(url, data={"prompts": "cat"}, files=[text])
    if kind == "missing prompt":
        return client.post(url, json=json_request(photo_png))
    if kind == "20 MB upload":
        big = ("image", ("big.png", b"\0" * (20 * MEBIBYTE), "image/png"))
        return client.post(url, data={"prompts": "cat"}, files=[big])
    if kind == "not JSON":
        return client.post(url, content=b"{not json", headers={"content-type": "application/json"})
    if kind == "threshold out of range":
        return client.post(url, json=json_request(photo_png, prompts=["cat"], threshold=2))
    if kind == "unknown field":
        return client.post(url, json=json_request(photo_png, prompt="cat"))
    if kind == "inverted box":
        return client.post(url, json=json_request(photo_png, boxes=[[50, 50, 10, 10]]))
    if kind == "no image field":
        return client.post(url, data={"prompts": "cat"}, files={"picture": ("a.png", photo_png)})
    assert kind == "plain text body"
    return client.post(url, content=b"cat", headers={"content-type": "text/plain"})


def test_too_many_pixels_is_413(segmenter: Segmenter) -> None:
    limits = ServerLimits(max_image_pixels=100 * 100)
    with TestClient(create_app(segmenter, model_name="tiny", limits=limits)) as client:
        body = json_request(png_bytes(picture(120, 90, seed=1)), prompts=["cat"])
        response = client.post("/v1/segment", json=body)
    assert response.status_code == 413
    assert "120 = 10800 pixels is over the limit of 10000" in response.json()["detail"]


def test_request_id_is_echoed_or_made(client: TestClient) -> None:
    mine = client.get("/healthz", headers={"X-Request-ID": "req-42"})
    assert mine.headers["X-Request-ID"] == "req-42"
    made = client.get("/healthz", headers={"X-Request-ID": "bad id with spaces"})
    assert len(made.headers["X-Request-ID"]) == 32
    assert made.headers["X-Request-ID"] != client.get("/healthz").headers["X-Request-ID"]


class _BlockingSegmenter(Segmenter):
    """The real segmenter, held inside ``segment`` until released."""

    def __init__(self, inner: Segmenter) -> None:
        super().__init__(inner.backend, inner.tokenizer)
        self.entered = threading.Event()
        self.release = threading.Event()

    def segment(self, *args: Any, **kwargs: Any) -> Any:
        self.entered.set()
        self.release.wait(timeout=60)
        return super().segment(*args, **kwargs)


def test_a_full_queue_answers_503_with_retry_after(segmenter: Segmenter, photo_png: bytes) -> None:
    blocking = _BlockingSegmenter(segmenter)
    limits = ServerLimits(workers=1, max_waiting=0)
    body = json_request(photo_png, prompts=["cat"])
    with TestClient(create_app(blocking, model_name="tiny", limits=limits)) as client:
        first: list[Any] = []
        worker = threading.Thread(
            target=lambda: first.append(client.post("/v1/segment", json=body))
        )
        worker.start()
        try:
            assert blocking.entered.wait(timeout=60)
            refused = client.post("/v1/segment", json=body)
        finally:
            blocking.release.set()
            worker.join(timeout=60)
        # The slot is free again once the first request is answered.
        assert client.post("/v1/segment", json=body).status_code == 200
    assert refused.status_code == 503
    assert refused.headers["Retry-After"] == "1"
    assert "server busy" in refused.json()["detail"]
    assert first[0].status_code == 200


class _BrokenSegmenter(Segmenter):
    def segment(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("secret internal detail")


def test_unexpected_errors_are_500_without_details_and_logged(
    segmenter: Segmenter, photo_png: bytes
) -> None:
    broken = _BrokenSegmenter(segmenter.backend, segmenter.tokenizer)
    with (
        captured_log("tests.server.broken") as (logger, stream),
        TestClient(create_app(broken, model_name="tiny", logger=logger)) as client,
    ):
        response = client.post("/v1/segment", json=json_request(photo_png, prompts=["cat"]))
    assert response.status_code == 500
    assert response.json()["detail"] == "internal server error"
    assert "secret" not in response.text
    (failure, summary) = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert failure["message"] == "request failed"
    assert "RuntimeError: secret internal detail" in failure["exception"]
    assert summary["status"] == 500
    assert failure["request_id"] == summary["request_id"] == response.headers["X-Request-ID"]


def test_each_request_is_logged_as_one_json_line(segmenter: Segmenter, photo_png: bytes) -> None:
    with (
        captured_log("tests.server.requests") as (logger, stream),
        TestClient(create_app(segmenter, model_name="tiny", logger=logger)) as client,
    ):
        body = json_request(photo_png, prompts=["cat"])
        client.post("/v1/segment", json=body, headers={"X-Request-ID": "abc"})
        client.post("/v1/segment", json={"image": "!!", "prompts": ["cat"]})
    ok, bad = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert (ok["request_id"], ok["status"], ok["path"], ok["level"]) == (
        "abc",
        200,
        "/v1/segment",
        "info",
    )
    assert {"queue", "segment", "total"} <= set(ok["timings"])
    assert ok["prompts"] == ["cat"]
    assert (bad["status"], bad["level"], bad["error"]) == (
        422,
        "warning",
        "image: not valid base64",
    )
