"""API errors: every failure is answered as ``{"error": {"code": ..., "message": ...}}``, never as a stack trace."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi.responses import JSONResponse

# HTTP status of each per-file error code of dfdet.predict.MediaError.
MEDIA_STATUS = {
    "unsupported_type": 415,
    "image_too_large": 413,
    "no_face": 422,
    "unreadable": 422,
    "wrong_modality": 422,
    "no_video_stream": 422,
    "no_audio_track": 422,
    "internal_error": 500,
}


class ApiError(Exception):
    """A request that cannot be served.

    Args:
        status: HTTP status code.
        code: machine-readable reason (``file_too_large``, ``unsupported_media_type``, ``busy``, ``timeout``, ...).
        message: one sentence for people.
        headers: extra response headers (``Retry-After``).
    """

    def __init__(self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})

    def response(self) -> JSONResponse:
        """The JSON response."""
        return error_response(self.status, self.code, self.message, self.headers)


def error_body(code: str, message: str) -> dict[str, Any]:
    """``{"error": {"code": code, "message": message}}``."""
    return {"error": {"code": code, "message": message}}


def error_response(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """A JSON error response."""
    return JSONResponse(error_body(code, message), status_code=status, headers=dict(headers or {}))
