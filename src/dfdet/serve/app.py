"""The HTTP API: ``POST /v1/predict`` (multipart upload), ``GET /healthz``, the web page at ``/``, OpenAPI at /docs.

Only the model given at start-up is ever loaded; uploads are decoded as images, video or audio after their type has
been sniffed from their bytes, and never unpickled.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from importlib import resources
from typing import Any

import anyio
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dfdet import __version__
from dfdet.explain.overlay import overlay, png_bytes
from dfdet.predict.predictor import Predictor
from dfdet.predict.suite import Suite
from dfdet.serve.access import AccessControl, AccessPolicy
from dfdet.serve.errors import MEDIA_STATUS, ApiError, error_response
from dfdet.serve.jobs import JobSettings
from dfdet.serve.keys import KEY_HEADERS, AuthSettings
from dfdet.serve.limits import Admission, ServeSettings, Slots
from dfdet.serve.ops import Operations
from dfdet.serve.upload import FIELD, receive_upload

log = logging.getLogger("dfdet.serve")
STATIC = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"}
PAGE_POLICY = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "file_too_large"}
UPLOAD_BODY = {
    "required": True,
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {FIELD: {"type": "string", "format": "binary", "description": "image, video or audio"}},
                "required": [FIELD],
            }
        }
    },
}
ERROR_EXAMPLE = {"error": {"code": "unsupported_media_type", "message": "the file is not a supported ..."}}
ERROR_SCHEMA = {"description": "error", "content": {"application/json": {"example": ERROR_EXAMPLE}}}


class SecurityHeaders:
    """ASGI middleware adding ``nosniff``, ``no-referrer`` and frame denial to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"),
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers if scope["type"] == "http" else send)


def encode_prediction(
    predictor: Predictor | Suite, path: Any, filename: str, explain: bool
) -> tuple[int, dict[str, Any]]:
    """Runs on a prediction thread: the result, with explained faces as base64 PNGs, and its HTTP status."""
    prediction = predictor.predict(path, name=filename, explain=explain)
    result = prediction.result
    for face, entry in zip(prediction.faces, prediction.explanation_entries(), strict=True):
        entry["crop_png"] = base64.b64encode(png_bytes(face.crop)).decode("ascii")
        entry["overlay_png"] = base64.b64encode(png_bytes(overlay(face.crop, face.heat))).decode("ascii")
    status = MEDIA_STATUS.get(result["error"]["code"], 422) if "error" in result else 200
    return status, result


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
        return error_response(exc.status_code, code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        return error_response(422, "invalid_request", problems or "invalid request")

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("Unhandled error on %s %s", request.method, request.url.path)
        return error_response(500, "internal_error", "internal server error (logged on the server)")


def busy(what: str, settings: ServeSettings) -> ApiError:
    """503 with ``Retry-After``."""
    return ApiError(
        503, "busy", f"the server is busy ({what}); retry later", {"Retry-After": str(settings.retry_after_s)}
    )


def create_app(
    predictor: Predictor | Suite,
    settings: ServeSettings | None = None,
    access: AccessPolicy | None = None,
    auth: AuthSettings | None = None,
    jobs: JobSettings | None = None,
) -> FastAPI:
    """Builds the API around a loaded predictor.

    Args:
        predictor: scores the uploads (shared by the prediction threads): one model, or a suite of several.
        settings: limits; defaults when None.
        access: allowed hosts and browser origins; defaults (this machine's names, no other origin) when None.
        auth: API keys and their rate limit (:mod:`dfdet.serve.keys`); None: no keys.
        jobs: the durable job queue (``/v1/jobs``, :mod:`dfdet.serve.jobs`); None: none.

    Returns:
        The FastAPI application (``app.state.uploads`` and ``app.state.admission`` hold the bounds of uploads being
        received and of files queued or running; ``app.state.ops`` the keys, jobs and metrics: call its
        ``close()`` when the server stops).
    """
    settings = settings or ServeSettings()
    access = access or AccessPolicy()
    ops = Operations(auth, jobs)
    predictor = ops.observe(predictor)  # per-model timings in /metrics
    info = predictor.info
    app = FastAPI(
        title="dfdet deepfake detection API",
        version=__version__,
        description=f"Scores faces in images and videos (or audio) with the model `{info.name}` ({info.format}).",
        redoc_url=None,
    )
    ops.add_key_checks(app)  # inside CORS: preflights pass, refusals are readable by allowed pages
    if access.allowed_origins:  # their pages may read the answers
        app.add_middleware(CORSMiddleware, allow_origins=list(access.allowed_origins), allow_methods=["GET", "POST"],
                           allow_headers=list(KEY_HEADERS))  # fmt: skip
    app.add_middleware(AccessControl, policy=access)
    app.add_middleware(SecurityHeaders)  # refusals carry the headers too
    ops.add_request_context(app)  # outermost: request ids, access log and metrics of every answer
    uploads = Slots(settings.max_uploads)
    admission = Admission(settings.workers, settings.queue_size)
    app.state.uploads = uploads
    app.state.admission = admission
    app.state.settings = settings
    app.state.ops = ops
    folder = settings.folder()
    files = resources.files("dfdet.serve") / "static"
    page = (files / "index.html").read_bytes()
    static = {name: (files / name).read_bytes() for name in STATIC}
    _install_error_handlers(app)

    @app.get("/", include_in_schema=False)
    async def index() -> Response:
        return Response(page, media_type="text/html; charset=utf-8", headers={"content-security-policy": PAGE_POLICY})

    @app.get("/static/{name}", include_in_schema=False)
    async def asset(name: str) -> Response:
        if name not in static:
            raise ApiError(404, "not_found", f"no such file: /static/{name}")
        return Response(static[name], media_type=STATIC[name], headers={"cache-control": "no-cache"})

    suite = {"suite": predictor.describe()} if isinstance(predictor, Suite) else {}  # several models per file

    @app.get("/healthz", summary="Liveness and model description")
    async def healthz() -> dict[str, Any]:
        return {
            "status": "ok",
            "model": info.public(),
            **suite,
            "limits": {
                "max_upload_bytes": settings.max_upload_bytes,
                "max_uploads": settings.max_uploads,
                "upload_timeout_s": settings.upload_timeout_s,
                "request_timeout_s": settings.request_timeout_s,
                "workers": settings.workers,
                "queue_size": settings.queue_size,
            },
            "uploading": uploads.held,
            "in_flight": admission.held,
        }

    @app.post(
        "/v1/predict",
        summary="Score one image, video or audio file",
        openapi_extra={"requestBody": UPLOAD_BODY},
        responses={code: ERROR_SCHEMA for code in (400, 403, 408, 413, 415, 422, 503, 504)},
    )
    async def predict(
        request: Request,
        explain: bool = Query(False, description="add face crops and explanation heatmaps (base64 PNG)"),
    ) -> JSONResponse:
        """The fake probability of the uploaded file (form field ``file``), with per-frame scores and face boxes.

        The file type is decided from its bytes (JPEG, PNG, WebP, MP4/MOV, WebM/Matroska, AVI, WAV, FLAC, MP3,
        OGG), not its name. The file is received first (under its own bound), then queued for prediction. Errors:
        400 malformed request or Host not allowed, 403 origin not allowed, 408 upload too slow, 413 too large
        (bytes or pixels), 415 unsupported type, 422 no face or undecodable, 503 uploads or queue full (retry
        later), 504 prediction time limit.
        """
        if not uploads.try_acquire():
            raise busy(f"{uploads.capacity} uploads are being received", settings)
        try:
            upload = await receive_upload(
                request, folder, settings.max_upload_bytes, settings.upload_timeout_s, settings.min_upload_rate,
                settings.upload_grace_s,
            )  # fmt: skip
        finally:
            uploads.release()
        if not admission.try_acquire():
            upload.path.unlink(missing_ok=True)
            raise busy(f"{admission.capacity} files are being scored or queued", settings)
        try:
            future = admission.submit(
                encode_prediction, predictor, upload.path, upload.filename, explain,
                cleanup=lambda: upload.path.unlink(missing_ok=True),
            )  # fmt: skip
        except RuntimeError:  # the executor is shutting down
            admission.release()
            upload.path.unlink(missing_ok=True)
            raise ApiError(503, "shutting_down", "the server is shutting down") from None
        try:
            with anyio.fail_after(settings.request_timeout_s):
                status, body = await asyncio.wrap_future(future)
        except TimeoutError as exc:
            future.cancel()  # a queued job never starts; a running one finishes and then frees its slot
            limit = settings.request_timeout_s
            raise ApiError(504, "timeout", f"the prediction did not finish within the limit of {limit:g} s") from exc
        return JSONResponse(body, status_code=status)

    ops.add_routes(app, predictor, encode_prediction, settings, uploads, admission)  # /metrics, /readyz, /v1/jobs
    return app
