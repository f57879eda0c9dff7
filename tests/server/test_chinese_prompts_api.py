"""Chinese prompts over HTTP: JSON (UTF-8 or escaped) and multipart forms reach the translator;
each result has the prompt as sent and the English query the model read."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from conftest import THRESHOLD, json_request
from helpers.extras import needs_zh
from sam3lib import BackendUnavailableError, Segmenter
from sam3lib.formats import decode_rle
from sam3lib.server.app import create_app


@pytest.fixture(scope="module")
def client(segmenter: Segmenter) -> Iterator[TestClient]:
    with TestClient(create_app(segmenter, model_name="tiny")) as test_client:
        yield test_client


def _serve(segmenter: Segmenter, translator: Callable[[str], str] | None) -> TestClient:
    """The same model and tokenizer behind another translator."""
    other = Segmenter(segmenter.backend, segmenter.tokenizer, translator=translator)
    return TestClient(create_app(other, model_name="tiny"))


@needs_zh
def test_json_bodies_in_utf8_or_escaped_give_prompt_and_query(
    client: TestClient, segmenter: Segmenter, photo_png: bytes
) -> None:
    body = json_request(photo_png, prompts=["红色的汽车", "dog"], threshold=THRESHOLD)
    headers = {"content-type": "application/json"}
    raw = client.post(
        "/v1/segment", content=json.dumps(body, ensure_ascii=False).encode("utf-8"), headers=headers
    )
    escaped = client.post(
        "/v1/segment", content=json.dumps(body, ensure_ascii=True), headers=headers
    )

    assert raw.status_code == escaped.status_code == 200, raw.text
    for response in (raw, escaped):
        results = response.json()["results"]
        assert [(r["prompt"], r["query"]) for r in results] == [
            ("红色的汽车", "red car"),
            ("dog", "dog"),
        ]
    want = segmenter.segment(Image.open(io.BytesIO(photo_png)), "red car", threshold=THRESHOLD)
    assert len(want) > 0
    got = raw.json()["results"][0]["instances"]
    assert [instance["label"] for instance in got] == ["红色的汽车"] * len(want)
    # What the model found for the Chinese prompt is what it finds for "red car".
    np.testing.assert_allclose([instance["score"] for instance in got], want.scores, atol=1e-5)
    assert [decode_rle(instance["segmentation"]).sum() for instance in got] == want.areas.tolist()


@needs_zh
def test_a_multipart_form_with_traditional_characters(client: TestClient, photo_png: bytes) -> None:
    form = {"prompts": ["紅色的汽車"], "threshold": str(THRESHOLD), "mask_format": "none"}
    response = client.post(
        "/v1/segment", data=form, files={"image": ("照片.png", photo_png, "image/png")}
    )

    assert response.status_code == 200, response.text
    (result,) = response.json()["results"]
    assert (result["prompt"], result["query"], result["label"]) == (
        "紅色的汽車",
        "red car",
        "紅色的汽車",
    )


@needs_zh
def test_an_untranslatable_prompt_is_a_422_naming_it(client: TestClient, photo_png: bytes) -> None:
    response = client.post("/v1/segment", json=json_request(photo_png, prompts=["一只🐶"]))

    assert response.status_code == 422, response.text
    assert "一只🐶" in response.json()["detail"]


def test_info_and_queries_without_translation(segmenter: Segmenter, photo_png: bytes) -> None:
    with _serve(segmenter, None) as plain:
        info = plain.get("/v1/info").json()
        response = plain.post(
            "/v1/segment",
            json=json_request(photo_png, prompts=["狗"], threshold=THRESHOLD, mask_format="none"),
        )

    assert info["translation"] is False
    assert response.status_code == 200, response.text
    (result,) = response.json()["results"]
    assert (result["prompt"], result["query"]) == ("狗", "狗")


def test_info_says_the_default_server_translates(client: TestClient) -> None:
    assert client.get("/v1/info").json()["translation"] is True
    schema = client.get("/openapi.json").json()
    assert "query" in schema["components"]["schemas"]["ResultOut"]["properties"]


def test_a_translator_missing_its_extra_is_a_409(segmenter: Segmenter, photo_png: bytes) -> None:
    def needs_an_extra(prompt: str) -> str:
        raise BackendUnavailableError("Chinese prompts need the 'zh' extra")

    with _serve(segmenter, needs_an_extra) as server:
        response = server.post("/v1/segment", json=json_request(photo_png, prompts=["狗"]))
        english = server.post(
            "/v1/segment", json=json_request(photo_png, prompts=["dog"], mask_format="none")
        )

    assert response.status_code == 409, response.text
    assert "'zh' extra" in response.json()["detail"]
    assert english.status_code == 200  # English never reaches the translator
