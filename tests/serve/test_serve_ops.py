"""Operations: the Prometheus endpoint's content, /healthz and /readyz, request ids and JSON log lines."""

from __future__ import annotations

import io
import json
import logging
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from dfdet.predict import Prediction
from dfdet.serve import JobSettings, ServeSettings, create_app
from dfdet.serve.observe import JsonFormatter, configure_logging, model_timings


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def make_client(predictor: Any, tmp_path: Path, jobs: bool = True) -> TestClient:
    settings = ServeSettings(upload_dir=str(tmp_path / "uploads"))
    job_settings = JobSettings(db_path=str(tmp_path / "jobs.sqlite"), poll_s=0.05) if jobs else None
    app = create_app(predictor, settings, jobs=job_settings)
    return TestClient(app, base_url="http://localhost", raise_server_exceptions=False)


@pytest.fixture
def timed_predictor(fake_predictor: Any) -> Any:
    """The fake predictor, answering like a face model with a voice companion (two timed parts)."""

    class Timed(fake_predictor):  # type: ignore[misc,valid-type]
        def predict(self, path: Path, name: str | None = None, explain: bool = False) -> Prediction:
            result = super().predict(path, name, explain).result
            result["model"] = {"name": "face-m", "modality": "face"}
            result["seconds"] = 0.03
            result["audio"] = {"model": {"name": "voice-m", "modality": "audio"}, "seconds": 0.02}
            return Prediction(result)

    return Timed()


def test_metrics_content(timed_predictor: Any, face_jpeg: bytes, tmp_path: Path) -> None:
    client = make_client(timed_predictor, tmp_path)
    assert client.post("/v1/predict", files={"file": ("a.jpg", face_jpeg)}).status_code == 200
    job = client.post("/v1/jobs", files={"file": ("a.jpg", face_jpeg)}).json()["id"]
    deadline = time.monotonic() + 10
    while client.get(f"/v1/jobs/{job}").json()["status"] != "done" and time.monotonic() < deadline:
        time.sleep(0.02)
    client.get("/v1/jobs/missing")
    response = client.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    got = samples(response.text)
    predict = ("method", "POST"), ("route", "/v1/predict"), ("status", "200")
    assert got[("dfdet_http_requests_total", predict)] == 1
    assert got[("dfdet_http_requests_total", (("method", "GET"), ("route", "/v1/jobs/{job_id}"), ("status", "404")))]
    assert got[("dfdet_http_request_duration_seconds_count", (("method", "POST"), ("route", "/v1/predict")))] == 1
    face, voice = (("modality", "face"), ("model", "face-m")), (("modality", "audio"), ("model", "voice-m"))
    assert got[("dfdet_model_seconds_count", face)] == 2 and got[("dfdet_model_seconds_count", voice)] == 2
    assert got[("dfdet_model_seconds_sum", face)] == pytest.approx(0.06)
    assert got[("dfdet_jobs", (("state", "queued"),))] == 0 and got[("dfdet_jobs", (("state", "done"),))] == 1
    assert got[("dfdet_jobs_finished_total", (("state", "done"),))] == 1
    assert got[("dfdet_in_flight", (("stage", "predicting"),))] == 0
    client.app.state.ops.close()  # type: ignore[attr-defined]


def test_queue_depth_is_reported(fake_predictor: Any, face_jpeg: bytes, tmp_path: Path) -> None:
    held = fake_predictor()
    held.gate.clear()
    client = make_client(held, tmp_path)
    for _ in range(3):
        client.post("/v1/jobs", files={"file": ("a.jpg", face_jpeg)})
    deadline = time.monotonic() + 10
    while samples(client.get("/metrics").text)[("dfdet_jobs", (("state", "running"),))] < 1:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert samples(client.get("/metrics").text)[("dfdet_jobs", (("state", "queued"),))] == 2
    held.gate.set()
    client.app.state.ops.close()  # type: ignore[attr-defined]


def test_health_and_readiness(fake_predictor: Any, tmp_path: Path) -> None:
    client = make_client(fake_predictor(), tmp_path)
    assert client.get("/healthz").json()["status"] == "ok"
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json() == {
        "status": "ready",
        "checks": {"model": "ok", "job_workers": "ok", "database": "ok", "upload_dir": "ok", "job_dir": "ok"},
    }
    client.app.state.ops.close()  # type: ignore[attr-defined]  # workers stopped, database closed
    down = client.get("/readyz")
    assert down.status_code == 503 and down.json()["error"]["code"] == "not_ready"
    assert down.json()["checks"]["database"].startswith("not writable")
    assert "job worker" in down.json()["error"]["message"]
    assert client.get("/healthz").status_code == 200  # alive all the same
    assert make_client(fake_predictor(), tmp_path / "nojobs", jobs=False).get("/readyz").json()["checks"] == {
        "model": "ok", "upload_dir": "ok",
    }  # fmt: skip


def test_request_ids_and_json_log_lines(fake_predictor: Any, face_jpeg: bytes, tmp_path: Path) -> None:
    client = make_client(fake_predictor(), tmp_path, jobs=False)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    try:
        given = client.get("/healthz", headers={"x-request-id": "req-42"})
        made = client.post("/v1/predict", files={"file": ("a.jpg", face_jpeg)}, headers={"x-request-id": "bad id!"})
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    assert given.headers["x-request-id"] == "req-42"
    made_id = made.headers["x-request-id"]
    assert made_id != "bad id!" and len(made_id) == 16
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]  # every line is one JSON object
    access = {line["request_id"]: line for line in lines if line["logger"] == "dfdet.serve.access"}
    assert access["req-42"]["path"] == "/healthz" and access["req-42"]["status"] == 200
    assert access[made_id]["method"] == "POST" and access[made_id]["seconds"] >= 0 and "time" in access[made_id]


def test_json_lines_carry_extra_fields_but_no_colour_codes() -> None:
    record = logging.LogRecord("uvicorn.error", logging.INFO, "x.py", 1, "Started %s", ("x",), None)
    record.color_message = "Started \x1b[36mx\x1b[0m"
    record.job_id = "abc"
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "Started x" and line["job_id"] == "abc" and "color_message" not in line


def test_configure_logging_formats_root_handlers() -> None:
    root = logging.getLogger()
    handler = logging.StreamHandler(io.StringIO())
    root.addHandler(handler)
    try:
        configure_logging("json")
        assert isinstance(handler.formatter, JsonFormatter)
        with pytest.raises(ValueError, match="json or text"):
            configure_logging("xml")
    finally:
        root.removeHandler(handler)


def test_timed_predictor_stands_in_for_the_predictor(timed_predictor: Any, face_jpeg: bytes, tmp_path: Path) -> None:
    from dfdet.serve.observe import Metrics, TimedPredictor

    metrics = Metrics()
    timed = TimedPredictor(timed_predictor, metrics)
    assert isinstance(timed, type(timed_predictor)) and timed.info is timed_predictor.info
    (tmp_path / "a.jpg").write_bytes(face_jpeg)
    assert timed.predict(tmp_path / "a.jpg", name="a.jpg").result["file"] == "a.jpg"
    assert metrics.registry.get_sample_value("dfdet_model_seconds_count", {"model": "face-m", "modality": "face"}) == 1


def test_model_timings_walk_nested_results() -> None:
    result = {"model": {"name": "a", "modality": "face"}, "seconds": 1.0,
              "models": [{"model": {"name": "b"}, "seconds": 2}, {"model": {"name": "c"}}]}  # fmt: skip
    assert list(model_timings(result)) == [("a", "face", 1.0), ("b", "", 2.0)]
