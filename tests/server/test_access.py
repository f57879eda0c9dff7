"""Who may call the API, in-process: the bearer key, CORS, where the key comes from, logs."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.routing import Mount

from conftest import captured_log, json_request
from sam3lib import Segmenter
from sam3lib.errors import InputError
from sam3lib.server import command
from sam3lib.server.access import check_cors_origins, resolve_api_key
from sam3lib.server.app import create_app
from sam3lib.server.limits import MEBIBYTE

KEY = "k3y-0f-the-server_Zq9"
ALLOWED = "https://app.example.com"
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization",
}


@pytest.fixture(scope="module")
def client(segmenter: Segmenter) -> Iterator[TestClient]:
    app = create_app(segmenter, model_name="tiny", api_key=KEY, cors_origins=[ALLOWED])
    with TestClient(app) as test_client:
        yield test_client


def _bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.parametrize(
    ("authorization", "message"),
    [
        (None, "missing API key"),
        (f"Basic {KEY}", "missing API key"),
        ("Bearer", "missing API key"),
        ("Bearer wrong", "wrong API key"),
        (f"Bearer {KEY[:-1]}", "wrong API key"),
        (f"Bearer {KEY}x", "wrong API key"),
        (f"Bearer {KEY.upper()}", "wrong API key"),
    ],
)
def test_the_api_answers_401_without_the_right_key(
    client: TestClient, photo_png: bytes, authorization: str | None, message: str
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    for response in (
        client.get("/v1/info", headers=headers),
        client.post("/v1/segment", json=json_request(photo_png, prompts=["cat"]), headers=headers),
    ):
        assert response.status_code == 401, response.text
        assert response.headers["WWW-Authenticate"] == "Bearer"
        body = response.json()
        assert message in body["detail"]
        assert body["request_id"] == response.headers["X-Request-ID"]
        assert "instances" not in response.text and "limits" not in response.text


def test_the_right_key_gets_the_usual_answers(client: TestClient, photo_png: bytes) -> None:
    assert client.get("/v1/info", headers=_bearer(KEY)).json()["model"] == "tiny"
    lower_case_scheme = {"Authorization": f"bearer {KEY}"}
    body = json_request(photo_png, prompts=["cat"])
    response = client.post("/v1/segment", json=body, headers=lower_case_scheme)
    assert response.status_code == 200, response.text
    assert response.json()["results"][0]["prompt"] == "cat"


def test_health_and_docs_stay_open_and_the_schema_declares_the_key(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/docs").status_code == 200
    schema = client.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["apiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "the key the server was started with",
    }
    segment = schema["paths"]["/v1/segment"]["post"]
    assert segment["security"] == [{"apiKey": []}]
    assert "401" in segment["responses"]
    assert "security" not in schema["paths"]["/healthz"]["get"]


def test_without_the_key_an_upload_is_refused_before_it_is_read(client: TestClient) -> None:
    # Over the 10 MiB limit: read, it would be a 413; the key is checked first.
    big = ("image", ("big.png", b"\0" * (12 * MEBIBYTE), "image/png"))
    response = client.post("/v1/segment", data={"prompts": "cat"}, files=[big])
    assert response.status_code == 401


def test_neither_the_key_nor_a_wrong_one_is_ever_logged(segmenter: Segmenter) -> None:
    wrong = "an0ther-services-t0ken"
    with captured_log("tests.server.access", logging.DEBUG) as (logger, stream):
        app = create_app(segmenter, model_name="tiny", logger=logger, api_key=KEY)
        with TestClient(app) as client:
            for key in (KEY, wrong):
                client.get("/v1/info", headers=_bearer(key))
                client.get(f"/v1/info?api_key={key}")
                client.post("/v1/segment", json={"image": "!!"}, headers=_bearer(key))
                client.get("/v1/info", headers={"Authorization": f"Basic {key}"})
    log = stream.getvalue()
    statuses = [json.loads(line)["status"] for line in log.splitlines()]
    assert statuses == [200, 401, 422, 401] + [401] * 4  # every request left its line
    assert '"error": "wrong API key"' in log
    assert KEY not in log and wrong not in log


@pytest.mark.parametrize(
    ("api_key", "message"),
    [
        ("", "the API key is empty"),
        (" padded ", "only visible ASCII"),
        ("two words", "only visible ASCII"),
        ("clé-secrète", "only visible ASCII"),
        ("line\nbreak", "only visible ASCII"),
    ],
)
def test_a_key_that_cannot_be_sent_is_refused(
    segmenter: Segmenter, api_key: str, message: str
) -> None:
    with pytest.raises(InputError, match=re.escape(message)) as refused:
        create_app(segmenter, model_name="tiny", api_key=api_key)
    if api_key.strip():
        assert api_key.strip() not in str(refused.value)


def test_the_flag_wins_then_the_file_then_the_variable(tmp_path: Path) -> None:
    key_file = tmp_path / "key.txt"
    key_file.write_text("from-file\n")
    environ = {"SAM3LIB_API_KEY": "from-env"}
    assert resolve_api_key("from-flag", None, environ) == "from-flag"
    assert resolve_api_key(None, key_file, environ) == "from-file"
    assert resolve_api_key(None, None, environ) == "from-env"
    assert resolve_api_key(None, None, {}) is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read it (No such file or directory)"),
        (b"\n\n", "the API key is empty"),
        (b"first-line\nsecond-line\n", "only visible ASCII"),
        (b"caf\xe9-key", "not UTF-8 text"),
    ],
)
def test_a_bad_key_file_is_refused_without_quoting_it(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    key_file = tmp_path / "key.txt"
    if content is not None:
        key_file.write_bytes(content)
    with pytest.raises(InputError, match=re.escape(message)) as refused:
        resolve_api_key(None, key_file, {})
    assert str(key_file) in str(refused.value)
    for secret in ("first-line", "second-line", "caf", "\\xe9"):
        assert secret not in str(refused.value)


def test_an_empty_variable_is_an_error_not_an_open_api() -> None:
    with pytest.raises(InputError, match="SAM3LIB_API_KEY: the API key is empty"):
        resolve_api_key(None, None, {"SAM3LIB_API_KEY": ""})


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--api-key", ""], "--api-key: the API key is empty"),
        (["--api-key", "has space"], "--api-key: the API key may hold only visible ASCII"),
        (["--api-key-file", "/no/such/key"], "--api-key-file /no/such/key: cannot read it"),
        (["--cors-origin", "https://app.example.com/"], "no path or trailing slash"),
    ],
)
def test_serve_refuses_bad_access_options_before_loading_the_model(
    capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    # The model does not exist: an error about it would mean the options were not checked.
    assert command.main(["--model", "/no/such/model", *arguments]) == 1
    error = capsys.readouterr().err
    assert message in error
    assert "has space" not in error


def test_serve_defaults_to_no_key_and_no_cors_and_one_key_source() -> None:
    args = command.build_parser().parse_args([])
    assert (args.api_key, args.api_key_file, args.cors_origin) == (None, None, [])
    origins = ["--cors-origin", ALLOWED, "--cors-origin", "http://localhost:3000"]
    assert command.build_parser().parse_args(origins).cors_origin == [
        ALLOWED,
        "http://localhost:3000",
    ]
    with pytest.raises(SystemExit):
        command.build_parser().parse_args(["--api-key", "a", "--api-key-file", "b"])


def test_no_cors_headers_unless_asked_for(segmenter: Segmenter) -> None:
    with TestClient(create_app(segmenter, model_name="tiny")) as client:
        preflight = client.options("/v1/segment", headers={"Origin": ALLOWED, **PREFLIGHT})
        simple = client.get("/v1/info", headers={"Origin": ALLOWED})
    assert preflight.status_code == 405
    for response in (preflight, simple):
        assert not [name for name in response.headers if name.startswith("access-control-")]


def test_cors_answers_the_configured_origin_only(client: TestClient) -> None:
    allowed = client.options("/v1/segment", headers={"Origin": ALLOWED, **PREFLIGHT})
    assert allowed.status_code == 200
    assert allowed.headers["Access-Control-Allow-Origin"] == ALLOWED
    assert "Authorization" in allowed.headers["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in allowed.headers
    # An allowed page's script reads answers, 401s included, and their request id.
    for headers in ({}, _bearer(KEY)):
        answer = client.get("/v1/info", headers={"Origin": ALLOWED, **headers})
        assert answer.headers["Access-Control-Allow-Origin"] == ALLOWED
        assert "X-Request-ID" in answer.headers["Access-Control-Expose-Headers"]
    for other in ("https://evil.example", "https://app.example.com.evil.example", "null"):
        refused = client.options("/v1/segment", headers={"Origin": other, **PREFLIGHT})
        simple = client.get("/v1/info", headers={"Origin": other, **_bearer(KEY)})
        assert refused.status_code == 400
        for response in (refused, simple):
            assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.parametrize(
    "origins",
    [["https://app.example.com/"], ["app.example.com"], ["https://a.example/path"], ALLOWED],
)
def test_a_malformed_origin_is_refused(origins: Any) -> None:
    with pytest.raises(InputError, match="origin"):
        check_cors_origins(origins)


def test_the_server_mounts_no_file_folders(segmenter: Segmenter) -> None:
    # Static files would be served by a Mount; the API has routes only.
    app = create_app(segmenter, model_name="tiny", api_key=KEY, cors_origins=[ALLOWED])
    assert not [route for route in app.routes if isinstance(route, Mount)]
