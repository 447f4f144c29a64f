"""Durable jobs: submit and poll, persistence across an in-process server stop/start on the same SQLite file, a job
left running re-queued and completed exactly once, stale workers unable to write, result expiry, owners."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from dfdet.serve import AuthSettings, JobSettings, ServeSettings, create_app
from dfdet.serve.jobstore import JobStore, JobStoreError
from dfdet.serve.keys import mint


def start(predictor: Any, tmp_path: Path, auth: AuthSettings | None = None, **jobs: Any) -> TestClient:
    settings = ServeSettings(upload_dir=str(tmp_path / "uploads"))
    job_settings = JobSettings(db_path=str(tmp_path / "jobs.sqlite"), poll_s=0.05, **jobs)
    app = create_app(predictor, settings, auth=auth, jobs=job_settings)
    return TestClient(app, base_url="http://localhost", raise_server_exceptions=False)


def stop(client: TestClient, timeout: float = 0.2) -> None:
    client.app.state.ops.close(timeout)  # type: ignore[attr-defined]


def submit(client: TestClient, data: bytes, name: str = "a.jpg", **headers: str) -> str:
    response = client.post("/v1/jobs", files={"file": (name, data)}, headers=headers)
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "queued" and response.headers["location"] == body["url"] == f"/v1/jobs/{body['id']}"
    return str(body["id"])


def wait_for(client: TestClient, job_id: str, states: tuple[str, ...], timeout: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if job.get("status") in states or time.monotonic() > deadline:
            assert job.get("status") in states, job
            return dict(job)
        time.sleep(0.02)


def rows(db: Path) -> dict[str, sqlite3.Row]:
    with sqlite3.connect(db) as conn:
        conn.row_factory = sqlite3.Row
        return {r["id"]: r for r in conn.execute("SELECT * FROM jobs")}


def test_submit_and_poll(fake_predictor: Any, face_jpeg: bytes, tmp_path: Path) -> None:
    client = start(fake_predictor(), tmp_path)
    job_id = submit(client, face_jpeg, "../x/face.jpg")
    job = wait_for(client, job_id, ("done",))
    assert job["http_status"] == 200 and job["result"]["fake_probability"] == 0.25 and job["file"] == "face.jpg"
    assert job["attempts"] == 1 and job["media_type"] == "image/jpeg" and job["finished"] and job["expires"]
    assert not list((tmp_path / "job_files").iterdir())  # the upload is removed once the job has ended
    error = client.post("/v1/jobs", files={"file": ("a.jpg", b"not an image at all")})  # refused before queueing
    assert error.status_code == 415 and error.json()["error"]["code"] == "unsupported_media_type"
    assert client.get("/v1/jobs/unknown").json()["error"]["code"] == "job_not_found"
    stop(client)


def test_queue_survives_a_restart_and_a_job_cut_off_runs_again_once(
    fake_predictor: Any, face_jpeg: bytes, tmp_path: Path
) -> None:
    held = fake_predictor()
    held.gate.clear()  # the first job hangs in scoring while the server stops
    first = start(held, tmp_path)
    ids = [submit(first, face_jpeg, f"f{i}.jpg") for i in range(3)]
    wait_for(first, ids[0], ("running",))
    assert first.get(f"/v1/jobs/{ids[2]}").json()["queue_position"] == 1
    stop(first)  # the worker is still inside predict(): the clean stop puts its job back in the queue
    assert rows(tmp_path / "jobs.sqlite")[ids[0]]["status"] == "queued"

    fresh = fake_predictor()
    second = start(fresh, tmp_path)  # same SQLite file
    jobs = [wait_for(second, job_id, ("done",)) for job_id in ids]
    held.gate.set()  # the old worker finishes now: its claim is stale and its store closed, it writes nothing
    time.sleep(0.2)
    assert [j["attempts"] for j in jobs] == [1, 1, 1] and {Path(p).suffix for p in fresh.seen} == {".jpg"}
    assert len(fresh.seen) == 3
    assert {r["completions"] for r in rows(tmp_path / "jobs.sqlite").values()} == {1}
    stop(second)


def test_job_left_running_by_a_killed_server_completes_exactly_once(
    fake_predictor: Any, face_jpeg: bytes, tmp_path: Path
) -> None:
    db, folder = tmp_path / "jobs.sqlite", tmp_path / "job_files"
    folder.mkdir()
    upload = folder / "dfdet-upload-abc.jpg"
    upload.write_bytes(face_jpeg)
    orphan = folder / "dfdet-upload-never-acknowledged.jpg"
    orphan.write_bytes(face_jpeg)
    store = JobStore(db, result_ttl_s=60)
    store.add("job1", None, "a.jpg", upload, "image/jpeg", len(face_jpeg), False)
    claim = store.claim()
    assert claim is not None and store.claim() is None
    store.close()  # as if killed: no completion, the row says 'running'

    predictor = fake_predictor()
    client = start(predictor, tmp_path)
    job = wait_for(client, "job1", ("done",))
    assert job["attempts"] == 2 and len(predictor.seen) == 1 and not orphan.exists() and not upload.exists()
    store = client.app.state.ops.runner.store  # type: ignore[attr-defined]
    assert not store.complete(claim, "done", 200, {"stale": True})  # the old claim cannot write a second result
    assert "stale" not in client.get("/v1/jobs/job1").json()["result"]
    assert rows(db)["job1"]["completions"] == 1
    stop(client)


def test_a_job_that_keeps_stopping_the_server_fails(face_jpeg: bytes, tmp_path: Path) -> None:
    upload = tmp_path / "f.jpg"
    upload.write_bytes(face_jpeg)
    store = JobStore(tmp_path / "jobs.sqlite", result_ttl_s=60)
    store.add("poison", None, "f.jpg", upload, "image/jpeg", 1, False)
    for attempt in (1, 2):
        claim = store.claim()
        assert claim is not None and claim.attempts == attempt
        assert store.recover(max_attempts=2) == ((1, []) if attempt == 1 else (0, ["poison"]))
    job = store.get("poison")
    assert job is not None and job["status"] == "failed" and job["result"]["error"]["code"] == "job_failed"
    assert not store.complete(claim, "done", 200, {})
    store.close()


def test_results_expire(face_jpeg: bytes, fake_predictor: Any, tmp_path: Path) -> None:
    now = [1000.0]
    upload = tmp_path / "f.jpg"
    upload.write_bytes(face_jpeg)
    store = JobStore(tmp_path / "store.sqlite", result_ttl_s=60, clock=lambda: now[0])
    store.add("a", None, "f.jpg", upload, "image/jpeg", 1, False)
    claim = store.claim()
    assert claim is not None and store.complete(claim, "done", 200, {"ok": 1})
    now[0] += 59
    assert store.expire() == 0 and store.get("a") is not None
    now[0] += 1
    assert store.expire() == 1 and store.get("a") is None
    store.close()
    client = start(fake_predictor(), tmp_path, result_ttl_s=0.3)  # through the workers
    job_id = submit(client, face_jpeg)
    wait_for(client, job_id, ("done",))
    deadline = time.monotonic() + 10
    while client.get(f"/v1/jobs/{job_id}").status_code == 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert client.get(f"/v1/jobs/{job_id}").json()["error"]["code"] == "job_not_found"
    stop(client)


def test_jobs_belong_to_their_key(fake_predictor: Any, face_jpeg: bytes, tmp_path: Path) -> None:
    (alice, alice_line), (bob, bob_line) = mint("alice"), mint("bob")
    path = tmp_path / "keys.txt"
    path.write_text(f"{alice_line}\n{bob_line}\n")
    client = start(fake_predictor(), tmp_path, AuthSettings(keys_file=str(path), keys_env=None))
    assert client.post("/v1/jobs", files={"file": ("a.jpg", face_jpeg)}).status_code == 401
    job_id = submit(client, face_jpeg, **{"x-api-key": alice})
    assert client.get(f"/v1/jobs/{job_id}", headers={"x-api-key": bob}).status_code == 404
    assert client.get(f"/v1/jobs/{job_id}", headers={"x-api-key": alice}).status_code == 200
    assert rows(tmp_path / "jobs.sqlite")[job_id]["owner"] == "alice"
    stop(client)


def test_idempotency_key_makes_retries_safe(fake_predictor: Any, face_jpeg: bytes, tmp_path: Path) -> None:
    client = start(fake_predictor(), tmp_path)
    first = submit(client, face_jpeg, **{"idempotency-key": "upload-1"})
    wait_for(client, first, ("done",))
    retry = client.post("/v1/jobs", files={"file": ("a.jpg", face_jpeg)}, headers={"idempotency-key": "upload-1"})
    assert retry.status_code == 202 and retry.json() == {
        "id": first, "status": "done", "url": f"/v1/jobs/{first}", "replayed": True,
    }  # fmt: skip
    other = submit(client, face_jpeg, **{"idempotency-key": "upload-2"})
    assert other != first and submit(client, face_jpeg) not in (first, other)
    bad = client.post("/v1/jobs", files={"file": ("a.jpg", face_jpeg)}, headers={"idempotency-key": "a b"})
    assert bad.status_code == 400
    assert len(rows(tmp_path / "jobs.sqlite")) == 3
    store = client.app.state.ops.runner.store  # type: ignore[attr-defined]
    upload = tmp_path / "late.jpg"
    upload.write_bytes(face_jpeg)  # a concurrent retry that lost the race: the first job's id, nothing added
    assert store.add("late", None, "a.jpg", upload, "image/jpeg", 1, False, "upload-2") == other
    assert store.find("someone-else", "upload-1") is None  # keys are per owner
    stop(client)


def test_queue_bound_and_one_server_per_database(fake_predictor: Any, face_jpeg: bytes, tmp_path: Path) -> None:
    held = fake_predictor()
    held.gate.clear()
    client = start(held, tmp_path, max_queued=1)
    submit(client, face_jpeg)
    deadline = time.monotonic() + 10
    while client.app.state.ops.runner.store.counts()["running"] == 0 and time.monotonic() < deadline:  # type: ignore[attr-defined]
        time.sleep(0.02)
    submit(client, face_jpeg)
    full = client.post("/v1/jobs", files={"file": ("a.jpg", face_jpeg)})
    assert full.status_code == 503 and full.headers["retry-after"] and full.json()["error"]["code"] == "busy"
    with pytest.raises(JobStoreError, match="in use by another server"):
        JobStore(tmp_path / "jobs.sqlite", result_ttl_s=1)
    held.gate.set()
    stop(client, timeout=5)
