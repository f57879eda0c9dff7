"""One app object served twice: each lifespan gets working segmentation workers."""

from __future__ import annotations

from fastapi.testclient import TestClient

from conftest import THRESHOLD, json_request
from sam3lib import Segmenter
from sam3lib.server.app import create_app


def test_a_second_lifespan_on_the_same_app_still_segments(
    segmenter: Segmenter, photo_png: bytes
) -> None:
    app = create_app(segmenter, model_name="tiny")
    body = json_request(photo_png, prompts=["cat"], threshold=THRESHOLD)
    for _ in range(2):
        with TestClient(app) as client:
            response = client.post("/v1/segment", json=body)
            assert response.status_code == 200, response.text
