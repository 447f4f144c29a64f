"""Jobs for long media: ``POST /v1/jobs`` stores the upload and answers 202 with a job id at once; worker threads
score the queue (:class:`JobRunner`); ``GET /v1/jobs/{id}`` answers the job's state and, when done, its result.

The queue lives in SQLite (:mod:`dfdet.serve.jobstore`), so a restart loses no accepted job: jobs left running are
queued again and every job completes once. ``POST /v1/predict`` stays for small files.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Header, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from dfdet.errors import ConfigValueError
from dfdet.serve.errors import ApiError
from dfdet.serve.jobstore import Claim, JobStore
from dfdet.serve.limits import ServeSettings, Slots
from dfdet.serve.upload import receive_upload

log = logging.getLogger("dfdet.serve.jobs")
IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
Score = Callable[[Claim], tuple[int, dict[str, Any]]]  # a claimed job -> (HTTP status of the result, result)


@dataclass(frozen=True)
class JobSettings:
    """The job queue.

    Attributes:
        db_path: the SQLite file of jobs and results (keep it across restarts; one server per file).
        file_dir: folder of the uploaded files waiting to be scored; None: ``job_files`` beside ``db_path``.
        workers: threads scoring jobs (beside the ``limits.workers`` of ``/v1/predict``).
        max_queued: jobs that may wait; 503 ``busy`` beyond.
        max_upload_bytes: largest job upload (long media); 413 beyond.
        upload_timeout_s: time to receive one job upload (the minimum rate of ``limits`` applies too).
        result_ttl_s: seconds a finished job's result is kept; then ``GET`` answers 404.
        max_attempts: a job whose scoring was cut off by a server stop this many times fails instead of running again.
        poll_s: how often idle workers look at the queue and expire old results.
    """

    db_path: str = "outputs/serve/jobs.sqlite"
    file_dir: str | None = None
    workers: int = 1
    max_queued: int = 1000
    max_upload_bytes: int = 1024 * 1024 * 1024
    upload_timeout_s: float = 1800.0
    result_ttl_s: float = 86400.0
    max_attempts: int = 3
    poll_s: float = 1.0

    def __post_init__(self) -> None:
        if (
            min(self.workers, self.max_queued, self.max_upload_bytes, self.max_attempts) < 1
            or min(self.upload_timeout_s, self.result_ttl_s, self.poll_s) <= 0
        ):
            raise ConfigValueError("jobs: workers, max_queued, max_upload_bytes, max_attempts >= 1 and "
                                   "upload_timeout_s, result_ttl_s, poll_s > 0")  # fmt: skip

    def folder(self) -> Path:
        """The upload folder of jobs (created if needed), absolute."""
        path = Path(self.file_dir) if self.file_dir else Path(self.db_path).parent / "job_files"
        path.mkdir(parents=True, exist_ok=True)
        return path.resolve()  # the database stores absolute paths: a restart from another folder finds them


class JobRunner:
    """Worker threads: claim a job, score it, complete it; idle ones expire old results.

    Args:
        store: the queue.
        score: scores a claimed job's file.
        settings: workers, attempts, poll interval.
        on_finished: called with (state, seconds) after each completion (metrics).
    """

    def __init__(
        self,
        store: JobStore,
        score: Score,
        settings: JobSettings,
        on_finished: Callable[[str, float], None] | None = None,
    ) -> None:
        self.store = store
        self.score = score
        self.settings = settings
        self.on_finished = on_finished
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self.folder = settings.folder()

    def start(self) -> None:
        """Re-queues the jobs a previous run left running, removes uploads no job needs, starts the workers."""
        requeued, failed = self.store.recover(self.settings.max_attempts)
        if requeued or failed:
            log.warning("Recovered jobs of a previous run: %d re-queued, %d failed after %d attempts",
                        requeued, len(failed), self.settings.max_attempts)  # fmt: skip
        needed = self.store.files()
        for path in self.folder.glob("dfdet-upload-*"):
            if str(path) not in needed:
                path.unlink(missing_ok=True)  # received while the server was killed, never acknowledged
        for i in range(self.settings.workers):
            thread = threading.Thread(target=self._work, name=f"dfdet-job-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def wake(self) -> None:
        """Tells idle workers that a job is waiting."""
        self._wake.set()

    def alive(self) -> bool:
        """Whether every worker thread is running."""
        return bool(self._threads) and all(t.is_alive() for t in self._threads)

    def stop(self, timeout: float = 5.0) -> None:
        """Stops the workers; a job still being scored after ``timeout`` stays ``running`` in the database and is
        re-queued at the next start."""
        self._stop.set()
        self._wake.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _work(self) -> None:
        last_expiry = 0.0
        while not self._stop.is_set():
            try:
                claim = self.store.claim()
                if claim is None:
                    if time.monotonic() - last_expiry >= self.settings.poll_s:
                        last_expiry = time.monotonic()
                        if expired := self.store.expire():
                            log.info("Expired %d job results", expired)
                    self._wake.wait(self.settings.poll_s)
                    self._wake.clear()
                    continue
                self._run(claim)
            except Exception:  # noqa: BLE001 - a database error must not kill the worker; it is logged
                if self._stop.is_set():
                    return
                log.exception("Job worker error")
                self._stop.wait(self.settings.poll_s)

    def _run(self, claim: Claim) -> None:
        start = time.perf_counter()
        try:
            http_status, result = self.score(claim)
            state = "done"
        except Exception as exc:  # noqa: BLE001 - recorded as the job's failure
            log.exception("Job %s failed", claim.id)
            http_status, state = 500, "failed"
            result = {"error": {"code": "internal_error", "message": f"internal error ({type(exc).__name__})"}}
        seconds = time.perf_counter() - start
        if self.store.complete(claim, state, http_status, result):
            Path(claim.path).unlink(missing_ok=True)
            log.info("Job %s %s", claim.id, state,
                     extra={"job_id": claim.id, "job_state": state, "attempt": claim.attempts,
                            "seconds": round(seconds, 4), "http_status": http_status})  # fmt: skip
            if self.on_finished is not None:
                self.on_finished(state, seconds)
        else:
            log.warning("Job %s was no longer running under this claim: result discarded", claim.id)


def iso(seconds: float | None) -> str | None:
    """UTC ISO 8601 of a Unix time."""
    return None if seconds is None else datetime.fromtimestamp(seconds, timezone.utc).isoformat(timespec="milliseconds")


def describe(store: JobStore, job: dict[str, Any]) -> dict[str, Any]:
    """The public view of a job row."""
    out: dict[str, Any] = {
        "id": job["id"], "status": job["status"], "file": job["filename"], "media_type": job["media_type"],
        "size": job["size"], "attempts": job["attempts"], "created": iso(job["created"]),
        "started": iso(job["started"]), "finished": iso(job["finished"]), "expires": iso(job["expires"]),
    }  # fmt: skip
    if job["status"] == "queued":
        out["queue_position"] = store.position(job["id"])
    if job["result"] is not None:
        out["http_status"] = job["http_status"]
        out["result"] = job["result"]
    return out


def add_job_routes(app: FastAPI, runner: JobRunner, limits: ServeSettings, uploads: Slots) -> None:
    """``POST /v1/jobs`` and ``GET /v1/jobs/{job_id}`` on ``app``."""
    store, settings = runner.store, runner.settings
    folder = runner.folder
    not_found = "no such job (unknown id, another key's job, or its result has expired)"

    async def accepted(job_id: str, replayed: bool) -> JSONResponse:
        url = f"/v1/jobs/{job_id}"
        job = await run_in_threadpool(store.get, job_id) if replayed else None
        state = job["status"] if job is not None else "queued"
        body = {"id": job_id, "status": state, "url": url} | ({"replayed": True} if replayed else {})
        return JSONResponse(body, status_code=202, headers={"Location": url})

    @app.post("/v1/jobs", status_code=202, summary="Queue one file (long media) for scoring; answers a job id")
    async def submit(
        request: Request,
        explain: bool = Query(False, description="add face crops and explanation heatmaps (base64 PNG)"),
        idempotency_key: str | None = Header(None, description="retry-safe submission: the same key, the same job"),
    ) -> JSONResponse:
        """Stores the upload (form field ``file``, as ``/v1/predict``) and answers 202 ``{"id", "status", "url"}``
        once the job is committed; poll ``GET /v1/jobs/{id}``. With an ``Idempotency-Key`` header, a retry of a
        submission whose answer was lost answers the job already created (``"replayed": true``, the body is not
        read again). Errors as ``/v1/predict``; 503 when the queue holds ``jobs.max_queued`` jobs."""
        owner = request.scope.get("state", {}).get("api_key")
        if idempotency_key is not None:
            if not IDEMPOTENCY_KEY.match(idempotency_key):
                raise ApiError(400, "bad_request", "Idempotency-Key: 1-128 letters, digits or ._:-")
            existing = await run_in_threadpool(store.find, owner, idempotency_key)
            if existing is not None:
                return await accepted(existing, replayed=True)
        waiting = await run_in_threadpool(store.counts)
        retry = {"Retry-After": str(limits.retry_after_s)}
        if waiting["queued"] >= settings.max_queued:
            raise ApiError(503, "busy", f"the job queue is full ({settings.max_queued} jobs); retry later", retry)
        if not uploads.try_acquire():
            raise ApiError(503, "busy", f"{uploads.capacity} uploads are being received; retry later", retry)
        try:
            upload = await receive_upload(
                request, folder, settings.max_upload_bytes, settings.upload_timeout_s, limits.min_upload_rate,
                limits.upload_grace_s,
            )  # fmt: skip
        finally:
            uploads.release()
        new_id = secrets.token_urlsafe(16)
        try:
            job_id = await run_in_threadpool(
                store.add, new_id, owner, upload.filename, upload.path, upload.media.mime, upload.size, explain,
                idempotency_key,
            )  # fmt: skip
        except BaseException:
            upload.path.unlink(missing_ok=True)
            raise
        if job_id != new_id:  # a concurrent retry with the same Idempotency-Key was first
            upload.path.unlink(missing_ok=True)
            return await accepted(job_id, replayed=True)
        runner.wake()
        log.info("Job %s queued", job_id, extra={"job_id": job_id, "job_state": "queued", "bytes": upload.size})
        return await accepted(job_id, replayed=False)

    @app.get("/v1/jobs/{job_id}", summary="A job's state and, when done, its result")
    async def status(request: Request, job_id: str) -> dict[str, Any]:
        """``status`` is ``queued`` (with ``queue_position``), ``running``, ``done`` (``result`` is the JSON of
        ``/v1/predict``, a per-file error included, with its ``http_status``) or ``failed``. 404 for unknown ids,
        jobs of other keys and expired results."""
        job = await run_in_threadpool(store.get, job_id) if len(job_id) <= 64 else None
        if job is None or job["owner"] != request.scope.get("state", {}).get("api_key"):
            raise ApiError(404, "job_not_found", not_found)
        return await run_in_threadpool(describe, store, job)
