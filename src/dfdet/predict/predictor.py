"""Scoring one file end to end: sniff, check limits, read, find the face (as preprocessing does), score, explain.

A file that cannot be scored (unsupported, corrupt, no face, too large, wrong modality) gives a result with an
``error`` field instead of raising, so one bad file never stops a folder or a server.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dfdet.metrics.calibration import verdict
from dfdet.predict.credentials import ContentCredentials
from dfdet.predict.errors import MediaError, PredictError
from dfdet.predict.media import SUPPORTED, MediaType, check_pixels, gif_type, sniff_file
from dfdet.predict.models import Model, ModelInfo
from dfdet.predict.preprocessors import ExplainedFace, preprocessor_for
from dfdet.predict.scoring import AGGREGATIONS
from dfdet.preprocess.pipeline import VideoPreprocessor
from dfdet.preprocess.video import IMAGE_EXTENSIONS
from dfdet.provenance import DEMONSTRATION_CAVEAT

if TYPE_CHECKING:
    from dfdet.sync import SyncMeasure

# Media errors that mean "this model does not apply to this file" (verdict not_applicable), not a broken file.
NOT_APPLICABLE = ("no_face", "no_audio_track", "no_speech", "wrong_modality")

log = logging.getLogger("dfdet.predict")


@dataclass
class Prediction:
    """A file's JSON-serialisable ``result`` and, when asked, its explained faces (images kept out of the JSON).

    ``explained_in``: for a suite's result, the model (``result["models"][name]``) whose ``explanations`` the faces
    belong to; None: the result's own ``explanations``.
    """

    result: dict[str, Any]
    faces: list[ExplainedFace] = field(default_factory=list)
    explained_in: str | None = None

    def explanation_entries(self) -> list[dict[str, Any]]:
        """The ``explanations`` entries of the result, one per explained face, in the same order."""
        holder = self.result if self.explained_in is None else self.result["models"][self.explained_in]
        return list(holder.get("explanations", []))


@contextmanager
def decodable_path(path: Path, media: MediaType) -> Iterator[Path]:
    """``path``, or a link to it whose suffix matches its content (the frame reader chooses image/video by suffix)."""
    if (path.suffix.lower() in IMAGE_EXTENSIONS) == (media.kind == "image"):
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="dfdet-") as tmp:
        alias = Path(tmp) / f"input{media.suffix}"
        alias.symlink_to(path.resolve())
        yield alias


class Predictor:
    """Scores images, videos and audio files with one model (several models: :class:`dfdet.predict.suite.Suite`).

    Args:
        model: an :class:`~dfdet.predict.models.OnnxModel` or :class:`~dfdet.predict.models.CheckpointModel`.
        faces: the face pipeline of preprocessing (uniform frame sampling, MTCNN, tracking, crops with margin).
        batch_size: model inputs per call.
        max_pixels: images and video frames with more pixels are refused from their header (decompression bombs).
        explain_frames: faces explained per file when asked (the highest-scoring frames, or frames of the
            highest-scoring clip).
        threshold: decision threshold on the calibrated probability; None: the model's.
        uncertain_band: ``(low, high)`` of the ``uncertain`` verdict; None: the model's (fitted on validation), or
            none when ``threshold`` overrides the model's (that band was chosen around the model's threshold).
        aggregation: ``mean``, ``max`` or ``topk_mean``; None: the model's.
        top_k: frames for ``topk_mean``; None: the model's.
        window_hop: audio models: the step between windows as a share of the window (0.5: half-window steps);
            None: windows end to end.
        vad: audio models: score only windows with speech (energy-based voice activity detection); a recording
            without speech is ``not_applicable``.
        min_speech: audio models: the share of a window that must be speech for it to be scored.
        credentials: reads each file's content credentials (C2PA, XMP, EXIF) into ``content_credentials``, beside
            the score; None: not read.
        sync: the training-free audio-visual sync measure: each video's result gets ``sync`` (offset of the sound
            against the lips, confidence, sync score, per window; see :meth:`dfdet.sync.SyncMeasure.result`).
    """

    def __init__(
        self,
        model: Model,
        faces: VideoPreprocessor,
        batch_size: int = 32,
        max_pixels: int = 40_000_000,
        explain_frames: int = 4,
        threshold: float | None = None,
        aggregation: str | None = None,
        top_k: int | None = None,
        uncertain_band: tuple[float, float] | None = None,
        window_hop: float | None = None,
        vad: bool = True,
        min_speech: float = 0.5,
        credentials: ContentCredentials | None = None,
        sync: SyncMeasure | None = None,
    ) -> None:
        if aggregation is not None and aggregation not in AGGREGATIONS:
            raise PredictError(f"aggregation={aggregation} is not one of {', '.join(AGGREGATIONS)}")
        if threshold is not None and not 0.0 <= threshold <= 1.0:
            raise PredictError(f"threshold={threshold} must be in [0, 1]")
        self.model = model
        self.faces = faces
        self.batch_size = batch_size
        self.max_pixels = max_pixels
        self.explain_frames = explain_frames
        self.credentials = credentials
        if window_hop is not None and not 0.0 < window_hop <= 1.0:
            raise PredictError(f"window_hop={window_hop} must be in (0, 1] (a share of the model's window)")
        if not 0.0 < min_speech <= 1.0:
            raise PredictError(f"min_speech={min_speech} must be in (0, 1] (a share of the model's window)")
        self.window_hop, self.vad, self.min_speech = window_hop, vad, min_speech
        self.sync = sync
        overrides: dict[str, Any] = {"aggregation": aggregation, "top_k": top_k}
        if threshold is not None:
            overrides.update(threshold=float(threshold), threshold_source="override", uncertain_band=None)
        if uncertain_band is not None:
            low, high = float(uncertain_band[0]), float(uncertain_band[1])
            t = model.info.threshold if threshold is None else float(threshold)
            if not 0.0 <= low <= t <= high <= 1.0:
                raise PredictError(f"uncertain_band=[{low}, {high}] must hold the threshold {t:g} within [0, 1]")
            overrides["uncertain_band"] = (low, high)
        keep = {k: v for k, v in overrides.items() if v is not None or k == "uncertain_band"}
        self.info: ModelInfo = dataclasses.replace(model.info, **keep)
        self.preprocessor = preprocessor_for(self)  # by the model's modality (face, audio, ...)

    def predict(self, path: str | os.PathLike, name: str | None = None, explain: bool = False) -> Prediction:
        """Scores one file.

        Args:
            path: the file (its content decides how it is read, not its name).
            name: the name shown in the result; default the file's name.
            explain: compute explanation heatmaps of up to ``explain_frames`` faces.

        Returns:
            The result: ``file``, ``kind``, ``media_type``, ``fake_probability`` in [0, 1] (null on error), ``label``
            (``fake``/``real`` at ``threshold``), ``aggregation``, per-frame ``frames`` (index, score, face box,
            detected) for images and videos, ``frames_without_face``, ``frames_requested``, ``frames_read`` and
            ``partial`` (with a ``warning``: a truncated video scored from the frames read), ``windows`` for audio,
            ``model``, ``explanation_method`` and ``explanations`` when asked, ``seconds``; or ``error`` {code,
            message}. Every result has a ``verdict`` (``fake``, ``uncertain``, ``real``, ``not_applicable`` when the
            model does not apply: no face for a face model, no sound for an audio model; null for a broken file)
            with its ``reason``, and ``demonstration_model`` (with a ``caveat`` when true: a model trained on the
            built-in synthetic data).
        """
        start = time.perf_counter()
        path = Path(path)
        result: dict[str, Any] = {"file": name if name is not None else path.name}
        faces: list[ExplainedFace] = []
        try:
            media = sniff_file(path)
            if media is None:
                raise MediaError("unsupported_type", f"not a supported image, video or audio file ({SUPPORTED})")
            if media.name == "gif":  # a still GIF is an image, an animated one a video
                media = gif_type(path)
            result.update(kind=media.kind, media_type=media.mime)
            size = check_pixels(path, media, self.max_pixels)
            if self.credentials is not None and self.credentials.enabled:  # beside the score, never mixed in
                result["content_credentials"] = self.credentials.read(path, media.mime)
            if size is not None:
                self.preprocessor.check_size(*size)
            with decodable_path(path, media) as readable:
                body, faces = self.preprocessor.score(readable, media, explain)
                result.update(body)
                if self.sync is not None and media.kind == "video":
                    result["sync"] = self.sync.result(readable)
        except MediaError as exc:
            result.update(fake_probability=None, label=None, error=exc.as_dict())
            if exc.code in NOT_APPLICABLE:
                result.update(verdict="not_applicable", reason=exc.message)
        except OSError as exc:  # the file vanished or cannot be opened
            message = f"cannot read the file ({type(exc).__name__}: {exc.strerror or 'error'})"
            result.update(fake_probability=None, label=None, error={"code": "unreadable", "message": message})
        except Exception as exc:  # noqa: BLE001 - a bug on one odd file must not stop a folder or a server
            log.exception("Scoring %s failed", path)
            message = f"internal error ({type(exc).__name__}); see the log"
            result.update(fake_probability=None, label=None, error={"code": "internal_error", "message": message})
        result.setdefault("verdict", None)
        result.setdefault("reason", result["error"]["message"] if "error" in result else None)
        result.update(self.provenance())
        result["model"] = {k: self.info.public()[k] for k in ("name", "version", "format", "backbone", "modality")}
        result["seconds"] = round(time.perf_counter() - start, 4)
        return Prediction(result, faces)

    def decision(self, probability: float) -> dict[str, Any]:
        """The result fields of a (calibrated) fake probability: ``label`` at this predictor's threshold, and the
        ``verdict`` with its ``reason`` (``uncertain`` inside the band, see
        :func:`dfdet.metrics.calibration.verdict`)."""
        t, band = self.info.threshold, self.info.uncertain_band
        call = verdict(probability, t, band)
        low, high = band if band is not None else (t, t)
        reasons = {
            "fake": f"fake probability {probability:.3f} is at or above {high:.3f}",
            "real": f"fake probability {probability:.3f} is below {low:.3f}",
            "uncertain": f"fake probability {probability:.3f} is in the uncertain band [{low:.3f}, {high:.3f}), where "
            "this model's calls were not precise enough on its validation data",
        }
        return {
            "fake_probability": probability,
            "label": "fake" if probability >= t else "real",
            "verdict": call,
            "reason": reasons[call],
            "threshold": t,
            "uncertain_band": None if band is None else list(band),
            "temperature": self.info.temperature,
            "aggregation": self.info.aggregation,
        }

    def provenance(self) -> dict[str, Any]:
        """``demonstration_model`` (the model was trained on the built-in synthetic data only) and then a
        ``caveat`` sentence."""
        demo = self.info.trained_on == "synthetic"
        return {"demonstration_model": demo, **({"caveat": DEMONSTRATION_CAVEAT} if demo else {})}

    def logits(self, x: np.ndarray | dict[str, np.ndarray]) -> np.ndarray:
        """The model's logits of inputs (N, ...) (a dict of them for audio-visual models), ``batch_size`` at a time,
        divided by its temperature: their sigmoid is the calibrated fake probability (the model's own logits when
        it was never calibrated)."""
        n = len(next(iter(x.values()))) if isinstance(x, dict) else len(x)

        def part(s: int) -> Any:
            return (
                {k: v[s : s + self.batch_size] for k, v in x.items()}
                if isinstance(x, dict)
                else x[s : s + self.batch_size]
            )

        parts = [self.model.logits(part(s)) for s in range(0, n, self.batch_size)]
        out = np.concatenate(parts) if parts else np.zeros(0, np.float32)
        return (out / np.float32(self.info.temperature)).astype(np.float32)
