"""Deployment around the API: API keys and rate limits, the durable job queue, metrics, request logs, readiness.

:func:`dfdet.serve.create_app` builds one :class:`Operations` and calls its three ``add_*`` methods at the places
where their middleware belongs: key checks inside CORS (so preflights pass and refusals are readable by allowed
pages), the request context outermost (so refusals are counted and logged too), the routes last.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool

from dfdet.serve.errors import error_body
from dfdet.serve.jobs import JobRunner, JobSettings, add_job_routes
from dfdet.serve.jobstore import Claim, JobStore
from dfdet.serve.keys import ApiKeys, AuthSettings, TokenBuckets
from dfdet.serve.limits import Admission, ServeSettings, Slots
from dfdet.serve.observe import Metrics, RequestContext, TimedPredictor

log = logging.getLogger("dfdet.serve")
Encode = Callable[[Any, Any, str, bool], tuple[int, dict[str, Any]]]  # dfdet.serve.app.encode_prediction


class Operations:
    """Keys, jobs, metrics and logs of one app.

    Args:
        auth: key sources and rate limit; None: no keys (the server must then listen on 127.0.0.1 only).
        jobs: the job queue; None: no ``/v1/jobs``.
        log_requests: one access log line per request.
    """

    def __init__(
        self, auth: AuthSettings | None = None, jobs: JobSettings | None = None, log_requests: bool = True
    ) -> None:
        self.auth = auth or AuthSettings(keys_env=None)
        self.keys = self.auth.load()
        self.buckets = TokenBuckets(self.auth.rate_per_s, self.auth.burst)
        self.jobs = jobs
        self.log_requests = log_requests
        self.metrics = Metrics()
        self.runner: JobRunner | None = None

    def observe(self, predictor: Any) -> Any:
        """``predictor``, recording per-model timings in the metrics."""
        return TimedPredictor(predictor, self.metrics)

    def add_key_checks(self, app: FastAPI) -> None:
        """API keys and rate limits (add before the CORS middleware: middleware added later runs first)."""
        refusals = self.metrics.refusals
        app.add_middleware(ApiKeys, keys=self.keys, buckets=self.buckets,
                           on_refusal=lambda status: refusals.labels(str(status)).inc())  # fmt: skip

    def add_request_context(self, app: FastAPI) -> None:
        """Request ids, access log lines and request metrics (add last: it runs first)."""
        app.add_middleware(RequestContext, metrics=self.metrics, log_requests=self.log_requests)

    def add_routes(
        self, app: FastAPI, predictor: Any, encode: Encode, settings: ServeSettings, uploads: Slots,
        admission: Admission,
    ) -> None:  # fmt: skip
        """``/metrics``, ``/readyz`` and, with jobs, ``/v1/jobs``; starts the job workers."""
        metrics = self.metrics
        metrics.watch("dfdet_in_flight", "Uploads being received and /v1/predict files queued or scored",
                      lambda: {"uploading": uploads.held, "predicting": admission.held}, "stage")  # fmt: skip
        if self.jobs is not None:
            store = JobStore(self.jobs.db_path, self.jobs.result_ttl_s)

            def score(claim: Claim) -> tuple[int, dict[str, Any]]:
                return encode(predictor, Path(claim.path), claim.filename, claim.explain)

            self.runner = JobRunner(store, score, self.jobs,
                                    on_finished=lambda state, s: self._job_finished(state, s))  # fmt: skip
            metrics.watch("dfdet_jobs", "Jobs per state (queued: the queue depth)", store.counts, "state")
            add_job_routes(app, self.runner, settings, uploads)
            self.runner.start()

        @app.get("/metrics", include_in_schema=False)
        async def prometheus() -> Response:
            return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

        @app.get("/readyz", summary="Readiness: models loaded, job database writable, upload folders writable")
        async def readyz() -> JSONResponse:
            checks = await run_in_threadpool(self.checks, predictor, settings)
            failed = {name: problem for name, problem in checks.items() if problem != "ok"}
            if not failed:
                return JSONResponse({"status": "ready", "checks": checks})
            message = "not ready: " + "; ".join(f"{name}: {problem}" for name, problem in failed.items())
            return JSONResponse({**error_body("not_ready", message), "checks": checks}, status_code=503)

    def _job_finished(self, state: str, seconds: float) -> None:
        self.metrics.jobs_finished.labels(state).inc()
        self.metrics.job_seconds.observe(seconds)

    def checks(self, predictor: Any, settings: ServeSettings) -> dict[str, str]:
        """``{check: "ok" or the problem}``."""
        checks = {"model": "ok" if getattr(predictor, "info", None) is not None else "no model loaded"}
        folders = {"upload_dir": settings.folder()}
        if self.runner is not None:
            folders["job_dir"] = self.runner.folder
            checks["job_workers"] = "ok" if self.runner.alive() else "a job worker thread has stopped"
            try:
                self.runner.store.ping()
                checks["database"] = "ok"
            except Exception as exc:  # noqa: BLE001 - reported, not raised
                checks["database"] = f"not writable ({type(exc).__name__}: {exc})"
        for name, folder in folders.items():
            try:
                with tempfile.TemporaryFile(dir=folder):
                    pass
                checks[name] = "ok"
            except OSError as exc:
                checks[name] = f"{folder} not writable ({exc.strerror})"
        return checks

    def close(self, timeout: float = 5.0) -> None:
        """Stops the job workers (waiting up to ``timeout`` s for running jobs) and closes the database; a job still
        being scored goes back to the queue (a clean stop does not count as an attempt)."""
        if self.runner is not None:
            self.runner.stop(timeout)
            if released := self.runner.store.release():
                log.info("Stopped with %d jobs still being scored: queued again for the next start", released)
            self.runner.store.close()
