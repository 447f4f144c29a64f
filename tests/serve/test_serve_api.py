"""The HTTP API: predictions, and every designed refusal answered as JSON ``{"error": {"code", "message"}}``."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from dfdet.serve import ServeSettings, create_app

PNG_1PX = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def make_client(predictor: Any, tmp_path: Path, **limits: Any) -> TestClient:
    settings = ServeSettings(upload_dir=str(tmp_path / "uploads"), **limits)
    return TestClient(create_app(predictor, settings), base_url="http://localhost", raise_server_exceptions=False)


def uploads_left(tmp_path: Path) -> list[Path]:
    return list((tmp_path / "uploads").iterdir())


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code and body["error"]["message"]
    assert "Traceback" not in response.text
    return body["error"]


def test_predicts_an_image_with_explanations(predictor: Any, face_jpeg: bytes, tmp_path: Path) -> None:
    client = make_client(predictor, tmp_path)
    files = {"file": ("../../etc/passwd.jpg", face_jpeg, "text/plain")}  # a hostile name and a lying type
    response = client.post("/v1/predict?explain=true", files=files)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["file"] == "passwd.jpg" and result["media_type"] == "image/jpeg"
    assert 0 <= result["fake_probability"] <= 1 and result["label"] in ("fake", "real")
    assert result["explanation_method"] == "grad-cam"
    for key in ("crop_png", "overlay_png"):
        assert base64.b64decode(result["explanations"][0][key]).startswith(b"\x89PNG")
    assert not uploads_left(tmp_path)
    plain = client.post("/v1/predict", files={"file": ("face.jpg", face_jpeg)}).json()
    assert plain["fake_probability"] == pytest.approx(result["fake_probability"]) and "explanations" not in plain


def test_health_page_and_openapi(predictor: Any, tmp_path: Path) -> None:
    client = make_client(predictor, tmp_path)
    health = client.get("/healthz").json()
    assert health["status"] == "ok" and health["model"]["format"] == "checkpoint" and health["in_flight"] == 0
    page = client.get("/")
    assert page.status_code == 200 and '<form id="upload"' in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"] and "http" not in page.text.split("<body")[0]
    assert client.get("/static/app.js").headers["content-type"].startswith("text/javascript")
    spec = client.get("/openapi.json").json()
    assert "multipart/form-data" in spec["paths"]["/v1/predict"]["post"]["requestBody"]["content"]
    assert client.get("/docs").status_code == 200


def test_per_file_errors_map_to_statuses(predictor: Any, tmp_path: Path) -> None:
    client = make_client(predictor, tmp_path)
    response = client.post("/v1/predict", files={"file": ("face.png", PNG_1PX, "image/png")})
    assert response.status_code == 422 and response.json()["error"]["code"] == "no_face"
    assert not uploads_left(tmp_path)


def test_too_large_upload(fake_predictor: Any, face_jpeg: bytes, tmp_path: Path) -> None:
    client = make_client(fake_predictor(), tmp_path, max_upload_bytes=1000)
    assert_error(client.post("/v1/predict", files={"file": ("a.jpg", face_jpeg)}), 413, "file_too_large")

    def chunked():  # no Content-Length: the limit holds while streaming
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n\r\n'
        for _ in range(10):
            yield face_jpeg[:400]
        yield b"\r\n--b--\r\n"

    headers = {"content-type": "multipart/form-data; boundary=b"}
    assert_error(client.post("/v1/predict", content=chunked(), headers=headers), 413, "file_too_large")
    assert not uploads_left(tmp_path)


def test_lying_content_length_does_not_bypass_the_limit(fake_predictor: Any, face_jpeg: bytes, tmp_path: Path) -> None:
    app = create_app(fake_predictor(), ServeSettings(upload_dir=str(tmp_path / "uploads"), max_upload_bytes=1000))
    body = (
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n\r\n' + face_jpeg + b"\r\n--b--\r\n"
    )
    chunks = [body[i : i + 512] for i in range(0, len(body), 512)]
    headers = [
        (b"host", b"localhost"),
        (b"content-type", b"multipart/form-data; boundary=b"),
        (b"content-length", b"300"),
    ]
    scope = {"type": "http", "method": "POST", "path": "/v1/predict", "raw_path": b"/v1/predict", "query_string": b"",
             "headers": headers, "http_version": "1.1", "scheme": "http", "server": ("t", 80), "client": ("c", 1),
             "root_path": "", "asgi": {"version": "3.0"}}  # fmt: skip
    sent: list[dict[str, Any]] = []

    async def run() -> None:
        messages = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]

        async def receive() -> dict[str, Any]:
            return messages.pop(0) if messages else {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(scope, receive, send)

    asyncio.run(run())
    assert sent[0]["status"] == 413
    assert json.loads(b"".join(m.get("body", b"") for m in sent[1:]))["error"]["code"] == "file_too_large"
    assert not uploads_left(tmp_path)


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("photo.jpg", b"just some text, not a photo\n" * 4),
        ("model.pt", b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00"),
    ],
)
def test_type_is_sniffed_not_named(fake_predictor: Any, tmp_path: Path, name: str, content: bytes) -> None:
    predictor = fake_predictor()
    client = make_client(predictor, tmp_path)
    response = client.post("/v1/predict", files={"file": (name, content, "image/jpeg")})
    assert_error(response, 415, "unsupported_media_type")
    assert not predictor.seen and not uploads_left(tmp_path)


def test_decompression_bomb_is_refused(predictor: Any, tmp_path: Path) -> None:
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    ihdr = (10_000).to_bytes(4, "big") * 2 + bytes([8, 2, 0, 0, 0])  # 1e8 pixels: under PIL's own limit, over ours
    bomb = (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 4096)) + chunk(b"IEND", b"")
    )
    response = make_client(predictor, tmp_path).post("/v1/predict", files={"file": ("bomb.png", bomb)})
    assert response.status_code == 413 and response.json()["error"]["code"] == "image_too_large"
    assert "10000 x 10000" in response.json()["error"]["message"]
    assert not uploads_left(tmp_path)


def test_bad_requests(fake_predictor: Any, face_jpeg: bytes, tmp_path: Path) -> None:
    client = make_client(fake_predictor(), tmp_path)
    assert_error(client.get("/nowhere"), 404, "not_found")
    assert_error(client.get("/v1/predict"), 405, "method_not_allowed")
    assert_error(client.post("/v1/predict", content=b"raw bytes"), 400, "bad_request")
    assert_error(
        client.post("/v1/predict", data={"other": "field"}, files={"x": ("a.jpg", face_jpeg)}), 400, "bad_request"
    )
    two = [("file", ("a.jpg", face_jpeg)), ("file", ("b.jpg", face_jpeg))]
    assert_error(client.post("/v1/predict", files=two), 400, "bad_request")
    assert_error(client.post("/v1/predict", files={"file": ("e.jpg", b"")}), 400, "empty_file")
    headers = {"content-type": "multipart/form-data; boundary=zz"}
    assert_error(client.post("/v1/predict", content=b"--zz\r\nbroken", headers=headers), 400, "bad_request")
    assert_error(
        client.post("/v1/predict?explain=perhaps", files={"file": ("a.jpg", face_jpeg)}), 422, "invalid_request"
    )
    assert not uploads_left(tmp_path)


def test_internal_errors_hide_details(fake_predictor: Any, face_jpeg: bytes, tmp_path: Path) -> None:
    client = make_client(fake_predictor(error=RuntimeError("secret detail")), tmp_path)
    response = client.post("/v1/predict", files={"file": ("a.jpg", face_jpeg)})
    assert_error(response, 500, "internal_error")
    assert "secret" not in response.text
    assert not uploads_left(tmp_path)


def test_queue_full_answers_503(fake_predictor: Any, face_jpeg: bytes, tmp_path: Path) -> None:
    predictor = fake_predictor()
    predictor.gate.clear()  # predictions block until released
    app = create_app(predictor, ServeSettings(upload_dir=str(tmp_path / "uploads"), workers=1, queue_size=1))

    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
            post = lambda: client.post("/v1/predict", files={"file": ("a.jpg", face_jpeg)})  # noqa: E731
            first, second = asyncio.create_task(post()), asyncio.create_task(post())
            while app.state.admission.held < 2:
                await asyncio.sleep(0.01)
            third = await post()
            predictor.gate.set()
            return [await first, await second, third]

    first, second, third = asyncio.run(run())
    assert first.status_code == second.status_code == 200
    assert_error(third, 503, "busy")
    assert third.headers["retry-after"] == "1"
    assert app.state.admission.held == 0 and not uploads_left(tmp_path)


def test_time_limit_answers_504(fake_predictor: Any, face_jpeg: bytes, tmp_path: Path) -> None:
    client = make_client(fake_predictor(delay=1.0), tmp_path, request_timeout_s=0.2)
    assert_error(client.post("/v1/predict", files={"file": ("a.jpg", face_jpeg)}), 504, "timeout")
    admission = client.app.state.admission  # type: ignore[attr-defined]
    deadline = time.monotonic() + 10
    while admission.held and time.monotonic() < deadline:  # the timed-out job keeps its slot until it ends
        time.sleep(0.05)
    assert admission.held == 0 and not uploads_left(tmp_path)
