"""Prediction errors: a user error stops the command; a media error is one file's result, never fatal."""

from __future__ import annotations

from dfdet.errors import DfdetError


class PredictError(DfdetError):
    """The command cannot run as asked: a missing or unsupported model file, a missing input, bad options."""


class MediaError(Exception):
    """One file cannot be scored; recorded in its result as ``{"error": {"code": ..., "message": ...}}``.

    Codes: ``unsupported_type`` (not a recognised image, video or audio format), ``unreadable`` (corrupt or
    truncated), ``image_too_large`` (more pixels than allowed: a decompression bomb), ``no_face`` (no face in any
    sampled frame), ``wrong_modality`` (audio given to a face model, or an image to an audio model),
    ``no_video_stream``, ``no_audio_track``, ``no_speech`` (an audio model on a recording without speech).

    Args:
        code: machine-readable reason.
        message: one sentence for people.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def as_dict(self) -> dict[str, str]:
        """``{"code": ..., "message": ...}``."""
        return {"code": self.code, "message": self.message}
