"""API keys: hashed storage, 401 / 403, per-key rate limits (429 + Retry-After), CORS, no key in any log line, and
the refusal to listen beyond this machine without keys."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from dfdet.serve import AccessPolicy, AuthSettings, ServeSettings, create_app
from dfdet.serve.apikeys import main
from dfdet.serve.keys import KeyFileError, TokenBuckets, digest, mint, parse_entries
from dfdet.serve.observe import JsonFormatter


def key_file(tmp_path: Path, *names: str) -> tuple[Path, dict[str, str]]:
    """A key file with one minted key per name; returns it and ``{name: key}``."""
    keys, lines = {}, []
    for name in names:
        keys[name], line = mint(name)
        lines.append(line)
    path = tmp_path / "keys.txt"
    path.write_text("# test keys\n" + "\n".join(lines) + "\n")
    return path, keys


def make_client(predictor: Any, tmp_path: Path, auth: AuthSettings, **access: Any) -> TestClient:
    settings = ServeSettings(upload_dir=str(tmp_path / "uploads"))
    app = create_app(predictor, settings, AccessPolicy(**access), auth=auth)
    return TestClient(app, base_url="http://localhost", raise_server_exceptions=False)


def error_code(response: Any, status: int) -> str:
    assert response.status_code == status, response.text
    assert set(response.json()) == {"error"}
    return str(response.json()["error"]["code"])


def test_keys_are_stored_hashed(tmp_path: Path) -> None:
    key, line = mint("alice")
    assert key.startswith("dfdet_") and len(key) == 49 and key not in line
    assert line == f"alice sha256:{digest(key)}" and parse_entries([line], "x") == {digest(key): "alice"}
    assert mint("bob")[0] != key
    for bad in (key, f"alice {key}", "alice sha256:abc", "al ice sha256:" + "0" * 64):
        with pytest.raises(KeyFileError) as err:
            parse_entries(["# ok", bad], "keys.txt")
        assert "entry 2" in str(err.value) and key not in str(err.value)  # a pasted key is never echoed
    with pytest.raises(KeyFileError, match="twice"):
        parse_entries([line, line], "keys.txt")
    with pytest.raises(KeyFileError, match="does not exist"):
        AuthSettings(keys_file=str(tmp_path / "missing.txt")).load()


def test_keys_from_file_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, keys = key_file(tmp_path, "alice")
    bob, bob_line = mint("bob")
    carol, carol_line = mint("carol")
    monkeypatch.setenv("TEST_DFDET_KEYS", f"{bob_line},{carol_line}")
    loaded = AuthSettings(keys_file=str(path), keys_env="TEST_DFDET_KEYS").load()
    assert sorted(loaded.values()) == ["alice", "bob", "carol"] and digest(carol) in loaded
    assert AuthSettings(keys_env="TEST_DFDET_UNSET").load() == {}


def test_cli_mints_once_and_revokes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "conf" / "keys.txt"
    main(["add", "alice", "--file", str(path)])
    key = capsys.readouterr().out.strip().splitlines()[-1]
    assert key.startswith("dfdet_") and key not in path.read_text()
    assert AuthSettings(keys_file=str(path), keys_env=None).load() == {digest(key): "alice"}
    assert path.stat().st_mode & 0o077 == 0  # readable by its owner only
    with pytest.raises(SystemExit, match="already"):
        main(["add", "alice", "--file", str(path)])
    main(["revoke", "alice", "--file", str(path)])
    assert AuthSettings(keys_file=str(path), keys_env=None).load() == {}


def test_missing_and_wrong_keys(fake_predictor: Any, face_jpeg: bytes, tmp_path: Path) -> None:
    path, keys = key_file(tmp_path, "alice")
    predictor = fake_predictor()
    api = make_client(predictor, tmp_path, AuthSettings(keys_file=str(path), keys_env=None))
    files = {"file": ("a.jpg", face_jpeg)}
    anonymous = api.post("/v1/predict", files=files)
    assert error_code(anonymous, 401) == "missing_api_key" and anonymous.headers["www-authenticate"] == "Bearer"
    assert error_code(api.post("/v1/predict", files=files, headers={"x-api-key": mint("x")[0]}), 403) == (
        "invalid_api_key"
    )
    assert error_code(api.get("/metrics", headers={"authorization": "Bearer nope"}), 403) == "invalid_api_key"
    assert error_code(api.get("/metrics", headers={"authorization": "Basic abc"}), 401) == "missing_api_key"
    assert not predictor.seen and not list((tmp_path / "uploads").iterdir())  # refused before the body is read
    for header in ({"authorization": f"Bearer {keys['alice']}"}, {"x-api-key": keys["alice"]}):
        assert api.post("/v1/predict", files=files, headers=header).status_code == 200
    assert api.get("/metrics", headers={"x-api-key": keys["alice"]}).status_code == 200
    for public in ("/healthz", "/readyz", "/", "/openapi.json"):  # probes and the page need no key
        assert api.get(public).status_code == 200, public


def test_without_keys_the_local_server_is_open(fake_predictor: Any, face_jpeg: bytes, tmp_path: Path) -> None:
    api = make_client(fake_predictor(), tmp_path, AuthSettings(keys_env=None))
    assert api.post("/v1/predict", files={"file": ("a.jpg", face_jpeg)}).status_code == 200


def test_rate_limit_per_key(fake_predictor: Any, tmp_path: Path) -> None:
    path, keys = key_file(tmp_path, "alice", "bob")
    api = make_client(fake_predictor(), tmp_path, AuthSettings(keys_file=str(path), keys_env=None, rate_per_s=0.25,
                                                               burst=3))  # fmt: skip
    alice, bob = ({"x-api-key": keys[name]} for name in ("alice", "bob"))
    assert [api.get("/metrics", headers=alice).status_code for _ in range(3)] == [200] * 3
    limited = api.get("/metrics", headers=alice)
    assert error_code(limited, 429) == "rate_limited"
    assert 1 <= int(limited.headers["retry-after"]) <= 4  # a token comes back every 4 s
    assert api.get("/metrics", headers=bob).status_code == 200  # another key has its own bucket
    assert api.get("/healthz").status_code == 200  # probes are not limited


def test_token_bucket_refills() -> None:
    now = [0.0]
    buckets = TokenBuckets(rate=2.0, burst=2, clock=lambda: now[0])
    assert buckets.take("a") == buckets.take("a") == 0.0
    assert buckets.take("a") == pytest.approx(0.5)
    now[0] = 0.5
    assert buckets.take("a") == 0.0 and buckets.take("a") == pytest.approx(0.5)
    now[0] = 100.0
    assert [buckets.take("a") for _ in range(3)][:2] == [0.0, 0.0]  # capped at the burst


def test_cors_closed_by_default_and_key_header_allowed(fake_predictor: Any, tmp_path: Path) -> None:
    path, keys = key_file(tmp_path, "alice")
    auth = AuthSettings(keys_file=str(path), keys_env=None)
    closed = make_client(fake_predictor(), tmp_path, auth)
    origin = "https://app.example.org"
    assert error_code(closed.get("/metrics", headers={"origin": origin, "x-api-key": keys["alice"]}), 403) == (
        "origin_not_allowed"
    )
    api = make_client(fake_predictor(), tmp_path, auth, allowed_origins=[origin])
    preflight = api.options("/v1/jobs", headers={"origin": origin, "access-control-request-method": "POST",
                                                 "access-control-request-headers": "x-api-key"})  # fmt: skip
    assert preflight.status_code == 200 and "x-api-key" in preflight.headers["access-control-allow-headers"].lower()
    refused = api.get("/metrics", headers={"origin": origin})  # the page can read why
    assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == origin


def test_keys_never_reach_the_logs(
    fake_predictor: Any, face_jpeg: bytes, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path, keys = key_file(tmp_path, "alice")
    api = make_client(fake_predictor(), tmp_path, AuthSettings(keys_file=str(path), keys_env=None, burst=2))
    wrong, garbage = mint("x")[0], "not-a-key-but-secret-7f3a"
    with caplog.at_level(logging.DEBUG):
        for header in ({"x-api-key": keys["alice"]}, {"authorization": f"Bearer {wrong}"}, {"x-api-key": garbage}):
            for _ in range(3):  # the third of alice's is rate limited
                api.post("/v1/predict", files={"file": ("a.jpg", face_jpeg)}, headers=header)
        api.get(f"/metrics?api_key={keys['alice']}", headers={"x-api-key": keys["alice"]})  # a key in a query
        logging.getLogger("dfdet.test").warning("pasted by mistake: %s", keys["alice"])
    access = [r for r in caplog.records if r.name == "dfdet.serve.access"]
    assert {r.status for r in access} >= {200, 403, 429}  # type: ignore[attr-defined]
    assert "alice" in {r.api_key for r in access}  # type: ignore[attr-defined]
    lines = [JsonFormatter().format(r) for r in caplog.records]
    assert all(json.loads(line)["message"] for line in lines)
    secrets = (keys["alice"], wrong, garbage, digest(keys["alice"]))
    for line in lines:
        assert not any(s in line for s in secrets), line
    assert any("dfdet_***" in line for line in lines)  # the pasted key is masked


@pytest.mark.parametrize(("host", "keys", "proxy", "starts"), [
    ("0.0.0.0", False, False, False), ("0.0.0.0", True, False, True), ("0.0.0.0", False, True, True),
    ("127.0.0.1", False, False, True),
])  # fmt: skip
def test_serve_refuses_to_listen_beyond_this_machine_without_keys(
    fake_predictor: Any,
    compose_cfg: Callable[..., Any],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    host: str,
    keys: bool,
    proxy: bool,
    starts: bool,
) -> None:
    import dfdet.tasks.serve as task
    from dfdet.predict.errors import PredictError

    served: dict[str, Any] = {}
    monkeypatch.setattr(task, "build_predictor", lambda cfg: fake_predictor())
    monkeypatch.setattr(task, "build_server", lambda app, *a, **k: served.update(app=app) or type(
        "Server", (), {"run": lambda self: None})())  # fmt: skip
    path, _ = key_file(tmp_path, "alice")
    cfg = compose_cfg("serve", [
        f"host={host}", "model_path=m.onnx", f"limits.upload_dir={tmp_path}", f"jobs.db_path={tmp_path / 'j.db'}",
        f"auth.keys_file={path if keys else 'null'}", "auth.keys_env=null", f"access.auth_proxy={proxy}",
        "log_format=text",
    ])  # fmt: skip
    if starts:
        task.serve(cfg)
        assert served["app"].state.ops.keys if keys else not served["app"].state.ops.keys
    else:
        with pytest.raises(PredictError, match="refusing to start.*API keys"):
            task.serve(cfg)
        assert not served
