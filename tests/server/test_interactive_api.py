"""``POST /v1/predict`` and ``POST /v1/generate``: answers equal to ``Segmenter.predict`` and
``Segmenter.generate`` (in-process and over loopback), logits round trips, errors, 409."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from conftest import captured_log, decode_mask, json_request
from helpers.serving import serving_app
from sam3lib import InteractiveResult, SegmentationResult, Segmenter
from sam3lib.server.app import create_app
from sam3lib.server.interactive_requests import decode_mask_input, encode_logits

GENERATE = {"points_per_side": 4, "pred_iou_thresh": 0.0, "stability_score_thresh": 0.0}


@pytest.fixture(scope="module")
def client(interactive_segmenter: Segmenter) -> Iterator[TestClient]:
    with TestClient(create_app(interactive_segmenter, model_name="tiny")) as test_client:
        yield test_client


def _image(png: bytes) -> Image.Image:
    return Image.open(io.BytesIO(png))


def assert_same_masks(
    answer: dict[str, Any], want: SegmentationResult, mask_format: str = "rle"
) -> None:
    instances = answer["instances"]
    assert answer["label"] == "object"
    np.testing.assert_allclose([i["score"] for i in instances], want.scores, atol=1e-5)
    np.testing.assert_allclose(
        np.array([i["box"] for i in instances]).reshape(-1, 4), want.boxes, atol=1e-5
    )
    masks = np.array([decode_mask(i["segmentation"], mask_format) for i in instances])
    np.testing.assert_array_equal(masks.reshape(want.masks.shape), want.masks)
    if isinstance(want, InteractiveResult):
        assert answer["best"] == want.best
        assert [i["object_score"] for i in instances] == pytest.approx(want.object_scores.tolist())


def test_a_click_then_a_refining_click_with_the_logits_sent_back(
    client: TestClient, interactive_segmenter: Segmenter, photo_png: bytes
) -> None:
    body = json_request(photo_png, points=[[80, 60]], return_logits=True)
    response = client.post("/v1/predict", json=body)
    assert response.status_code == 200, response.text
    data = response.json()
    want = interactive_segmenter.predict(_image(photo_png), points=[[80, 60]])
    assert data["image_size"] == [190, 250] and data["model"] == "tiny"
    assert {"queue", "segment", "encode", "total"} <= set(data["timings"])
    assert_same_masks(data["result"], want)
    size = client.get("/v1/info").json()["mask_input_size"]
    logits = [decode_mask_input(i["logits"], size) for i in data["result"]["instances"]]
    np.testing.assert_array_equal(np.stack(logits), want.logits.astype(np.float16))

    best_logits = data["result"]["instances"][want.best]["logits"]
    refine = {"points": [[80, 60], [200, 150]], "point_labels": [1, 0], "multimask": False}
    response = client.post(
        "/v1/predict", json=json_request(photo_png, mask_input=best_logits, **refine)
    )
    assert response.status_code == 200, response.text
    assert "logits" not in response.json()["result"]["instances"][0]
    want = interactive_segmenter.predict(
        _image(photo_png),
        points=[[80, 60], [200, 150]],
        point_labels=[1, 0],
        mask_input=want.logits[want.best].astype(np.float16),  # what travelled
        multimask=False,
    )
    assert_same_masks(response.json()["result"], want)


def test_multipart_boxes_one_mask_each_as_png(
    client: TestClient, interactive_segmenter: Segmenter, photo_png: bytes
) -> None:
    boxes = [[10, 10, 120, 100], [150, 80, 240, 180]]
    form = {"boxes": json.dumps(boxes), "multimask": "false", "mask_format": "png"}
    response = client.post(
        "/v1/predict", data=form, files={"image": ("photo.png", photo_png, "image/png")}
    )
    assert response.status_code == 200, response.text
    want = interactive_segmenter.predict(_image(photo_png), boxes=boxes, multimask=False)
    assert len(want) == 2
    assert_same_masks(response.json()["result"], want, mask_format="png")


def test_generate_answers_what_the_segmenter_finds(
    client: TestClient, interactive_segmenter: Segmenter, photo_png: bytes
) -> None:
    response = client.post("/v1/generate", json=json_request(photo_png, **GENERATE))
    assert response.status_code == 200, response.text
    want = interactive_segmenter.generate(_image(photo_png), **GENERATE)
    assert len(want) > 0
    assert_same_masks(response.json()["result"], want)


@pytest.mark.parametrize(
    ("path", "options", "message"),
    [
        ("/v1/predict", {"points": [[900, 10]]}, "points: 1 coordinate pair(s) outside"),
        ("/v1/predict", {}, "empty prompt"),
        ("/v1/predict", {"points": [[1, 2, 3]]}, "points.0: List should have at most 2"),
        ("/v1/predict", {"box": [1, 1, 20, 20], "boxes": [[1, 1, 5, 5]]}, "box and boxes"),
        ("/v1/predict", {"box": [1, 1, 20, 20], "mask_input": "AAAA"}, "mask_input: expected"),
        ("/v1/predict", {"box": [1, 1, 20, 20], "mask_input": "!"}, "mask_input: not valid"),
        ("/v1/predict", {"points": [[1, 1]] * 65}, "points: List should have at most 64"),
        ("/v1/predict", {"point": [[1, 1]]}, "point: Extra inputs are not permitted"),
        ("/v1/generate", {"points_per_side": 65}, "points_per_side: Input should be less"),
        ("/v1/generate", {"crop_n_layers": 3}, "crop_n_layers: Input should be less"),
        (
            "/v1/generate",
            {"points_per_side": 2, "crop_n_layers": 2, "crop_n_points_downscale_factor": 2},
            "crop layer 2 would get",
        ),
    ],
)
def test_bad_requests_get_422_naming_the_field(
    client: TestClient, photo_png: bytes, path: str, options: dict[str, Any], message: str
) -> None:
    response = client.post(path, json=json_request(photo_png, **options))
    assert response.status_code == 422, response.text
    assert message in response.json()["detail"]


def test_a_checkpoint_without_the_head_answers_409_before_reading(
    segmenter: Segmenter, photo_png: bytes
) -> None:
    with TestClient(create_app(segmenter, model_name="detector")) as client:
        info = client.get("/v1/info").json()
        answers = [
            client.post("/v1/predict", json=json_request(photo_png, points=[[10, 10]])),
            client.post("/v1/generate", json=json_request(photo_png)),
            # Refused before the body is read: no 413 for a 12 MB upload.
            client.post("/v1/predict", content=b"\0" * (12 << 20)),
        ]
        segment = client.post("/v1/segment", json=json_request(photo_png, prompts=["cat"]))
    assert info["interactive"] is False
    for response in answers:
        assert response.status_code == 409, response.text
        assert "no interactive (tracker) head" in response.json()["detail"]
    assert segment.status_code == 200


def test_schema_documents_both_bodies_and_the_409(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    for path in ("/v1/predict", "/v1/generate"):
        operation = schema["paths"][path]["post"]
        assert set(operation["requestBody"]["content"]) == {
            "application/json",
            "multipart/form-data",
        }
        assert {"200", "409", "413", "422", "503"} <= set(operation["responses"])
    info = client.get("/v1/info").json()
    assert info["interactive"] is True and info["mask_input_size"] == 48


def test_the_api_key_guards_the_new_routes(
    interactive_segmenter: Segmenter, photo_png: bytes
) -> None:
    app = create_app(interactive_segmenter, model_name="tiny", api_key="sesame")
    body = json_request(photo_png, points=[[10, 10]])
    with TestClient(app) as client:
        for path in ("/v1/predict", "/v1/generate"):
            assert client.post(path, json=body).status_code == 401
        allowed = {"Authorization": "Bearer sesame"}
        assert client.post("/v1/predict", json=body, headers=allowed).status_code == 200


def test_a_predict_request_is_logged_without_its_coordinates(
    interactive_segmenter: Segmenter, photo_png: bytes
) -> None:
    with (
        captured_log("tests.server.interactive") as (logger, stream),
        TestClient(create_app(interactive_segmenter, model_name="tiny", logger=logger)) as client,
    ):
        body = json_request(photo_png, points=[[81, 61], [7, 9]], point_labels=[1, 0])
        client.post("/v1/predict", json=body)
    [line] = [json.loads(text) for text in stream.getvalue().splitlines()]
    assert (line["path"], line["status"]) == ("/v1/predict", 200)
    assert line["prompt"] == {"points": 2, "boxes": 0, "mask_inputs": 0}
    assert "81" not in json.dumps(line["prompt"])


def test_over_loopback(interactive_segmenter: Segmenter, photo_png: bytes) -> None:
    """The app served by uvicorn on a loopback port: the same answers over the network."""
    app = create_app(interactive_segmenter, model_name="tiny")
    with serving_app(app) as url, httpx.Client(base_url=url, timeout=120) as http:
        clicked = http.post(
            "/v1/predict",
            files={"image": ("photo.png", photo_png, "image/png")},
            data={"points": "[[80, 60]]", "box": "[30, 20, 140, 110]", "multimask": "false"},
        )
        generated = http.post("/v1/generate", json=json_request(photo_png, **GENERATE))
    assert clicked.status_code == 200, clicked.text
    want = interactive_segmenter.predict(
        _image(photo_png), points=[[80, 60]], box=[30, 20, 140, 110], multimask=False
    )
    assert_same_masks(clicked.json()["result"], want)
    assert generated.status_code == 200, generated.text
    assert_same_masks(
        generated.json()["result"], interactive_segmenter.generate(_image(photo_png), **GENERATE)
    )


def test_logits_travel_as_float16_base64() -> None:
    logits = np.linspace(-32, 32, 16, dtype=np.float32).reshape(4, 4)
    text = encode_logits(logits)
    assert len(base64.b64decode(text)) == 4 * 4 * 2
    np.testing.assert_array_equal(decode_mask_input(text, 4), logits.astype(np.float16))
    assert decode_mask_input([text, text], 4).shape == (2, 4, 4)  # type: ignore[union-attr]
