"""What operators watch: Prometheus metrics (``prometheus-client``), request ids and one JSON object per log line.

Every request gets an id (the client's ``X-Request-Id`` when it is a short token, else a new one), echoed in the
response's ``X-Request-Id`` and written in every log line of that request. One access line per request names the
method, path (never the query string), status, duration, client and API key *name*; no header is logged, and
anything shaped like a dfdet key (``dfdet_`` + 43 characters) is masked in every log line as a last defence.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timezone
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("dfdet_request_id", default=None)
CLIENT_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
KEY_SHAPED = re.compile(r"dfdet_[A-Za-z0-9_-]{43}")
STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime", "taskName"}
STANDARD |= {"color_message"}  # uvicorn's copy of the message with terminal colours
access_log = logging.getLogger("dfdet.serve.access")
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)


def mask_keys(text: str) -> str:
    """``text`` with anything shaped like a dfdet API key replaced by ``dfdet_***``."""
    return KEY_SHAPED.sub("dfdet_***", text)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time`` (UTC), ``level``, ``logger``, ``message``, ``request_id`` when in a request,
    the record's extra fields, and ``exception`` (the traceback) when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or REQUEST_ID.get()
        if request_id:
            out["request_id"] = request_id
        out.update({k: v for k, v in vars(record).items() if k not in STANDARD and k not in out})
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return mask_keys(json.dumps(out, default=str))


class MaskKeys(logging.Filter):
    """Masks key-shaped strings in a record's message (for text-formatted handlers)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_keys(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def configure_logging(fmt: str) -> None:
    """Formats the root logger's handlers (those Hydra set up) as ``json`` or leaves them as ``text``; both mask
    key-shaped strings."""
    if fmt not in ("json", "text"):
        raise ValueError(f"log_format must be json or text (got {fmt!r})")
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
    for handler in root.handlers:
        if fmt == "json":
            handler.setFormatter(JsonFormatter())
        if not any(isinstance(f, MaskKeys) for f in handler.filters):
            handler.addFilter(MaskKeys())


class Metrics:
    """The server's Prometheus metrics, in their own registry (one per app)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("dfdet_http_requests", "HTTP requests answered", ["method", "route", "status"],
                                registry=r)  # fmt: skip
        self.latency = Histogram("dfdet_http_request_duration_seconds", "Time from request to the end of the answer",
                                 ["method", "route"], buckets=LATENCY_BUCKETS, registry=r)  # fmt: skip
        self.in_progress = Gauge("dfdet_http_requests_in_progress", "Requests being answered", registry=r)
        self.refusals = Counter("dfdet_auth_refusals", "Requests refused for their API key or its rate limit",
                                ["status"], registry=r)  # fmt: skip
        self.model_seconds = Histogram("dfdet_model_seconds", "Time to score one file, per model",
                                       ["model", "modality"], buckets=LATENCY_BUCKETS, registry=r)  # fmt: skip
        self.jobs_finished = Counter("dfdet_jobs_finished", "Jobs completed", ["state"], registry=r)
        self.job_seconds = Histogram("dfdet_job_seconds", "Time to score one job", buckets=LATENCY_BUCKETS,
                                     registry=r)  # fmt: skip

    def watch(self, name: str, documentation: str, read: Callable[[], Mapping[str, float]], label: str) -> None:
        """Adds a gauge family read at each scrape: ``read()`` gives ``{label value: value}``."""
        self.registry.register(_Snapshot(name, documentation, read, label))

    def observe_result(self, result: Any) -> None:
        """Per-model timings: every dict in ``result`` with a ``model`` description and its ``seconds``."""
        for model, modality, seconds in model_timings(result):
            self.model_seconds.labels(model, modality).observe(seconds)


class _Snapshot(Collector):
    def __init__(self, name: str, documentation: str, read: Callable[[], Mapping[str, float]], label: str) -> None:
        self.name, self.documentation, self.read, self.label = name, documentation, read, label

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(self.name, self.documentation, labels=[self.label])
        for value_label, value in self.read().items():
            family.add_metric([value_label], float(value))
        yield family


def model_timings(result: Any) -> Iterator[tuple[str, str, float]]:
    """(model name, modality, seconds) of each scored part of a result (the file's model, its sound or image
    companions, or each model of a suite)."""
    if isinstance(result, dict):
        model, seconds = result.get("model"), result.get("seconds")
        if isinstance(model, dict) and isinstance(seconds, (int, float)) and "name" in model:
            yield str(model["name"]), str(model.get("modality", "")), float(seconds)
        for key, value in result.items():
            if key != "model" and isinstance(value, (dict, list)):
                yield from model_timings(value)
    elif isinstance(result, list):
        for item in result:
            yield from model_timings(item)


class TimedPredictor:
    """A predictor whose ``predict`` also records per-model timings; everything else is the wrapped predictor's."""

    def __init__(self, predictor: Any, metrics: Metrics) -> None:
        self._predictor = predictor
        self._metrics = metrics

    def __getattr__(self, name: str) -> Any:
        return getattr(self._predictor, name)

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # isinstance() checks on the wrapped predictor's class hold for the wrapper too
        return type(self._predictor)

    def predict(self, *args: Any, **kwargs: Any) -> Any:
        prediction = self._predictor.predict(*args, **kwargs)
        self._metrics.observe_result(getattr(prediction, "result", None))
        return prediction


class RequestContext:
    """ASGI middleware (outermost): request id, the access log line and the request metrics.

    Args:
        app: the application behind it.
        metrics: where requests are counted and timed (by route template, so job ids do not make new series).
        log_requests: write one access line per request.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics, log_requests: bool = True) -> None:
        self.app = app
        self.metrics = metrics
        self.log_requests = log_requests

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers", [])).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if CLIENT_ID.match(given) else uuid.uuid4().hex[:16]
        token = REQUEST_ID.set(request_id)
        state = scope.setdefault("state", {})
        status = 500
        start = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["x-request-id"] = request_id
            await send(message)

        self.metrics.in_progress.inc()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - start
            self.metrics.in_progress.dec()
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope["method"]
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(seconds)
            if self.log_requests:
                client = scope.get("client") or ("", 0)
                access_log.info("%s %s %d", method, scope["path"], status, extra={
                    "method": method, "path": scope["path"], "status": status, "seconds": round(seconds, 4),
                    "client": client[0], "api_key": state.get("api_key"),
                })  # fmt: skip
            REQUEST_ID.reset(token)
