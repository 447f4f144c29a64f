"""Who may talk to the server: ``Host`` names (DNS rebinding), browser origins (other sites' pages), and the warning
when it listens beyond this machine."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from dfdet.serve import AccessPolicy, ServeSettings, bind_warning, create_app


def client(predictor: Any, tmp_path: Path, base_url: str = "http://localhost", **access: Any) -> TestClient:
    app = create_app(predictor, ServeSettings(upload_dir=str(tmp_path / "uploads")), AccessPolicy(**access))
    return TestClient(app, base_url=base_url, raise_server_exceptions=False)


def refused(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1:8000", "[::1]:8000", "LOCALHOST:1"])
def test_local_host_names_are_served(fake_predictor: Any, tmp_path: Path, host: str) -> None:
    assert client(fake_predictor(), tmp_path).get("/healthz", headers={"host": host}).status_code == 200


@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:8000", "127.0.0.1.attacker.example", ""])
def test_other_host_names_are_refused(fake_predictor: Any, tmp_path: Path, host: str) -> None:
    refused(client(fake_predictor(), tmp_path).get("/healthz", headers={"host": host}), 400, "host_not_allowed")


def test_host_over_a_real_connection(fake_predictor: Any, tmp_path: Path, live_server: Callable[..., Any]) -> None:
    app = create_app(fake_predictor(), ServeSettings(upload_dir=str(tmp_path / "uploads")))
    with live_server(app) as url:
        assert httpx.get(f"{url}/healthz").status_code == 200
        refused(httpx.get(f"{url}/healthz", headers={"host": "rebound.attacker.example"}), 400, "host_not_allowed")


def test_configured_hosts(fake_predictor: Any, tmp_path: Path) -> None:
    policy = AccessPolicy(allowed_hosts=["*.example.org"])
    assert policy.host_allowed("api.example.org:443") and not policy.host_allowed("example.org.evil")
    assert not policy.host_allowed("localhost")
    assert AccessPolicy(allowed_hosts=["*"]).host_allowed("anything")
    assert AccessPolicy().for_bound_host("192.168.1.5").host_allowed("192.168.1.5:8000")
    assert AccessPolicy().for_bound_host("0.0.0.0") == AccessPolicy()  # a wildcard address is no name
    assert (
        client(fake_predictor(), tmp_path, "http://detector.lan", allowed_hosts=["detector.lan"])
        .get("/healthz")
        .status_code
        == 200
    )


def test_cross_origin_requests_are_refused(fake_predictor: Any, face_jpeg: bytes, tmp_path: Path) -> None:
    predictor = fake_predictor()
    api = client(predictor, tmp_path)
    files = {"file": ("a.jpg", face_jpeg)}
    for origin in ("http://attacker.example", "null", "http://localhost.attacker.example", "http://localhost:9999"):
        refused(api.post("/v1/predict", files=files, headers={"origin": origin}), 403, "origin_not_allowed")
        refused(api.get("/healthz", headers={"origin": origin}), 403, "origin_not_allowed")
    assert not predictor.seen and not list((tmp_path / "uploads").iterdir())
    same_origin = api.post("/v1/predict", files=files, headers={"origin": "http://localhost"})  # the own page
    assert same_origin.status_code == 200 and "access-control-allow-origin" not in same_origin.headers
    assert api.post("/v1/predict", files=files).status_code == 200  # no Origin: not a browser page's request


def test_configured_origin_is_allowed(fake_predictor: Any, face_jpeg: bytes, tmp_path: Path) -> None:
    api = client(fake_predictor(), tmp_path, allowed_origins=["https://app.example.org"])
    files = {"file": ("a.jpg", face_jpeg)}
    allowed = api.post("/v1/predict", files=files, headers={"origin": "https://app.example.org"})
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == "https://app.example.org"
    preflight = api.options(
        "/v1/predict", headers={"origin": "https://app.example.org", "access-control-request-method": "POST"}
    )
    assert preflight.status_code == 200
    refused(api.post("/v1/predict", files=files, headers={"origin": "https://other.example.org"}), 403,
            "origin_not_allowed")  # fmt: skip


def test_bind_warning() -> None:
    for local in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        assert bind_warning(local, auth_proxy=False) is None
    warning = bind_warning("0.0.0.0", auth_proxy=False)
    assert warning is not None and "0.0.0.0" in warning and "\n" not in warning
    assert bind_warning("192.168.1.5", auth_proxy=True) is None


@pytest.mark.parametrize(("host", "refused"), [("0.0.0.0", True), ("127.0.0.1", False)])
def test_serve_refuses_to_listen_beyond_this_machine_without_access_control(
    fake_predictor: Any,
    compose_cfg: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
    host: str,
    refused: bool,
) -> None:
    import dfdet.tasks.serve as task
    from dfdet.predict.errors import PredictError

    served: dict[str, Any] = {}

    def fake_server(app: Any, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        served.update(app=app, host=host)
        return type("Server", (), {"run": lambda self: None})()

    monkeypatch.setattr(task, "build_predictor", lambda cfg: fake_predictor())
    monkeypatch.setattr(task, "build_server", fake_server)
    overrides = [f"host={host}", "model_path=m.onnx", f"limits.upload_dir={tmp_path}", "auth.keys_env=null"]
    cfg = compose_cfg("serve", [*overrides, f"jobs.db_path={tmp_path / 'jobs.sqlite'}", "log_format=text"])
    with caplog.at_level(logging.WARNING, logger="dfdet"):
        if refused:  # no API keys and no authenticating proxy: see test_serve_keys.py
            with pytest.raises(PredictError, match="no access control"):
                task.serve(cfg)
            return
        task.serve(cfg)
    assert not [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert served["host"] == host
