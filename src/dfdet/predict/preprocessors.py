"""Per-modality input preparation for prediction, registered by the model contract's modality.

The :class:`~dfdet.predict.Predictor` sniffs a file, checks its limits and hands it to the preprocessor registered for
its model's modality (:data:`PREPROCESSORS`): ``face`` runs the face pipeline of preprocessing (sampling, MTCNN,
tracking, crops with the model's margin) and scores frames or clips; ``audio`` scores windows of the waveform (audio
files, or the sound track of videos). A new modality registers one class here with :func:`register`; nothing in
the predictor changes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from dfdet.predict.errors import MediaError, PredictError
from dfdet.predict.media import MediaType
from dfdet.predict.scoring import aggregate, clip_scores_per_frame, make_clips, sigmoid, to_input
from dfdet.preprocess.pipeline import NoFaceError, VideoFaces
from dfdet.preprocess.video import DecodeError, read_media, sample_indices

if TYPE_CHECKING:
    from dfdet.predict.predictor import Predictor

log = logging.getLogger("dfdet.predict")


@dataclass
class ExplainedFace:
    """One explained face: ``crop`` RGB uint8 (S, S, 3) and ``heat`` (H, W) in [0, 1] at the model's input size."""

    frame_index: int
    score: float
    crop: np.ndarray
    heat: np.ndarray


class Preprocessor(Protocol):
    """Makes a model's inputs from one file and scores them through its predictor."""

    def check_size(self, width: int, height: int) -> None:
        """Refuses, from the header's frame size alone, a file that cannot hold this modality's input."""

    def score(self, path: Path, media: MediaType, explain: bool) -> tuple[dict[str, Any], list[ExplainedFace]]:
        """The result body (``fake_probability``, ``label``, ...) and explained faces; raises :class:`MediaError`."""
        ...


PREPROCESSORS: dict[str, Callable[[Predictor], Preprocessor]] = {}


def register(modality: str) -> Callable[[type], type]:
    """Class decorator: the preprocessor of models whose contract's modality is ``modality``."""

    def add(cls: type) -> type:
        PREPROCESSORS[modality] = cls
        return cls

    return add


def preprocessor_for(predictor: Predictor) -> Preprocessor:
    """The registered preprocessor of ``predictor``'s model modality.

    Raises:
        PredictError: no preprocessor is registered for it.
    """
    modality = predictor.info.modality
    if modality not in PREPROCESSORS:
        raise PredictError(
            f"prediction has no preprocessor for {modality} models yet (registered: {', '.join(sorted(PREPROCESSORS))})"
        )
    return PREPROCESSORS[modality](predictor)


@register("face")
class FacePreprocessor:
    """Face models: the face pipeline of preprocessing, crops resized and normalised as the model's contract says.

    The crop margin is the model's (its contract's ``crop_margin``) when it recorded one, so prediction crops like
    the crops it was trained on whatever the predictor's face pipeline config says.
    """

    def __init__(self, predictor: Predictor) -> None:
        self.predictor = predictor
        self.faces = predictor.faces
        margin = (predictor.info.input or {}).get("crop_margin")
        cropper = getattr(self.faces, "cropper", None)
        if margin is not None and cropper is not None and cropper.margin != margin:
            log.info("Face crops use the model's margin %.3g (the face pipeline config says %.3g)", margin,
                     cropper.margin)  # fmt: skip
            cropper.margin = float(margin)

    def check_size(self, width: int, height: int) -> None:
        """Frames smaller than the smallest face searched (after the detector's downscaling) hold no face."""
        detector = self.faces.detector
        side = min(width, height) * detector.scale_for(height, width)
        if side < detector.min_face_size:
            raise MediaError("no_face", f"the frames ({width} x {height}) are smaller than the smallest face searched")

    def score(self, path: Path, media: MediaType, explain: bool) -> tuple[dict[str, Any], list[ExplainedFace]]:
        """Finds the face track as preprocessing does, scores its crops (frames or clips), explains when asked."""
        if media.kind == "audio":
            raise MediaError("wrong_modality", "this model scores faces in images and videos, not audio files")
        try:
            found = self.faces(path)
        except DecodeError as exc:
            raise MediaError("unreadable", f"cannot decode the {media.kind}: {exc}") from exc
        except NoFaceError as exc:
            where = "the image" if media.kind == "image" else f"the video ({exc})"
            raise MediaError("no_face", f"no face found in {where}") from exc
        info = self.predictor.info
        x = to_input(found.crops, info.input_size, info.mean, info.std)
        body: dict[str, Any] = {}
        if info.clip_len:
            stride = info.clip_stride or info.clip_len
            clips, starts = make_clips(x, info.clip_len, stride)
            probs = sigmoid(self.predictor.logits(clips))
            per_frame = clip_scores_per_frame(len(x), starts, info.clip_len, probs)
            ends = [min(s + info.clip_len, len(x)) - 1 for s in starts]
            body["clips"] = [
                {
                    "start_frame": int(found.frame_indices[s]),
                    "end_frame": int(found.frame_indices[e]),
                    "score": float(p),
                }
                for s, e, p in zip(starts, ends, probs, strict=True)
            ]
        else:
            probs = per_frame = sigmoid(self.predictor.logits(x))
        body.update(self.predictor.decision(aggregate(probs, info.aggregation, info.top_k)))
        body.update(
            num_frames=int(found.num_frames),
            frames_sampled=int(found.sampled),
            **read_report(found, media),
            frames_without_face=int(found.sampled - len(x)),
            frames=[
                {
                    "index": int(found.frame_indices[t]),
                    "score": float(per_frame[t]),
                    "box": [round(float(v), 1) for v in found.boxes[t]],
                    "detected": bool(found.detected[t]),
                }
                for t in range(len(x))
            ],
        )
        if not explain:
            return body, []
        faces, method = self._explain(x, probs, found.crops, found.frame_indices, per_frame)
        body["explanation_method"] = method
        body["explanations"] = [{"frame_index": f.frame_index, "score": f.score} for f in faces]
        return body, faces

    def _explain(
        self, x: np.ndarray, probs: np.ndarray, crops: list, indices: np.ndarray, per_frame: np.ndarray
    ) -> tuple[list[ExplainedFace], str]:
        """Heatmaps of the top-scoring frames (frame models) or of frames spread over the top-scoring clip."""
        n = max(1, self.predictor.explain_frames)
        if self.predictor.info.clip_len:
            stride = self.predictor.info.clip_stride or self.predictor.info.clip_len
            clips, starts = make_clips(x, self.predictor.info.clip_len, stride)
            best = int(np.argmax(probs))
            heat, method = self.predictor.model.explain(clips[best : best + 1], self.predictor.batch_size)
            offsets = sample_indices(self.predictor.info.clip_len, n)
            positions = [min(starts[best] + int(o), len(x) - 1) for o in offsets]
            heats = [heat[0][int(o)] if heat.ndim == 4 else heat[0] for o in offsets]
        else:
            positions = sorted(np.argsort(-probs, kind="stable")[:n].tolist())
            heat, method = self.predictor.model.explain(x[positions], self.predictor.batch_size)
            heats = list(heat)
        faces = [
            ExplainedFace(int(indices[p]), float(per_frame[p]), crops[p], h)
            for p, h in zip(positions, heats, strict=True)
        ]
        return faces, method


def read_report(found: VideoFaces, media: MediaType) -> dict[str, Any]:
    """``frames_requested``, ``frames_read`` and ``partial``; with ``partial``, a ``warning`` for people.

    A truncated video whose header announces more frames than its data holds is scored from the frames read, and
    says so: the score rests on part of the video only.
    """
    requested = int(found.requested if found.requested is not None else found.sampled)
    report: dict[str, Any] = {"frames_requested": requested, "frames_read": int(found.sampled)}
    report["partial"] = found.partial
    if found.partial:
        report["warning"] = (
            f"only {found.sampled} of the {requested} sampled frames could be read (the {media.kind} announces "
            f"{found.num_frames} frames but its data breaks off: truncated or damaged); the score rests on those"
        )
        log.warning("Partial read: %s", report["warning"])
    return report


@register("image")
class ImagePreprocessor:
    """Whole-image models (AI-generated images): the image itself, no face needed, cropped as the model's contract
    says (:func:`dfdet.transforms.crops.image_inputs`, the same function evaluation uses); videos are scored on
    uniformly sampled frames, each like an image, and the frame scores aggregate as the model says."""

    def __init__(self, predictor: Predictor) -> None:
        self.predictor = predictor
        self.contract = predictor.info.contract

    def check_size(self, width: int, height: int) -> None:
        """Any image size: small images are padded, large ones cropped (the pixel limit applies before)."""

    def score(self, path: Path, media: MediaType, explain: bool) -> tuple[dict[str, Any], list[ExplainedFace]]:
        from dfdet.transforms.crops import image_inputs

        if media.kind == "audio":
            raise MediaError("wrong_modality", "this model scores images (and video frames), not audio files")
        count = int(getattr(self.predictor.faces, "frames_per_video", 32))
        try:
            indices, frames, total = read_media(path, count)
        except DecodeError as exc:
            raise MediaError("unreadable", f"cannot decode the {media.kind}: {exc}") from exc
        c = self.contract
        size, crop, crops = int(c.size or 0), c.crop or "center", int(c.crops or 1)
        scores = []
        for frame in frames:
            x = image_inputs(frame, size, c.mean or (), c.std or (), crop, crops, c.resize)
            scores.append(float(sigmoid(self.predictor.logits(x)).mean()))
        probs = np.asarray(scores, np.float32)
        body = self.predictor.decision(aggregate(probs, self.predictor.info.aggregation, self.predictor.info.top_k))
        body.update(
            num_frames=int(total),
            crops_per_frame=crops,
            frames=[{"index": int(i), "score": float(p)} for i, p in zip(indices, probs, strict=True)],
        )
        if explain:  # heatmaps of whole images are not implemented yet
            body.update(explanation_method=None, explanations=[])
        return body, []


@register("audio")
class AudioPreprocessor:
    """Audio models: the waveform (of audio files, or the sound track of videos) in windows of the model's length."""

    def __init__(self, predictor: Predictor) -> None:
        self.predictor = predictor

    def score(self, path: Path, media: MediaType, explain: bool) -> tuple[dict[str, Any], list[ExplainedFace]]:
        """The mean fake probability of the windows with speech, sliding over the whole recording (the sound track
        of videos), with each window's score and the stretches that look spoofed (:mod:`dfdet.predict.audio`)."""
        if media.kind == "image":
            raise MediaError(
                "wrong_modality", "this model scores audio (files or the sound track of videos), not images"
            )
        from dfdet.data.audio.io import NoAudioTrackError, extract_audio_track, load_audio
        from dfdet.data.audio.vad import EnergyVAD
        from dfdet.errors import ManifestError
        from dfdet.predict.audio import fake_regions, score_recording

        p = self.predictor
        rate, length = int(p.info.sample_rate or 16000), int(p.info.input_size)
        try:
            wave = extract_audio_track(path, rate) if media.kind == "video" else load_audio(path, rate)
        except NoAudioTrackError as exc:
            raise MediaError("no_audio_track", "the video has no sound track") from exc
        except ManifestError as exc:
            raise MediaError("unreadable", "cannot decode the audio") from exc
        if wave.size == 0:
            raise MediaError("unreadable", "the audio holds no samples")
        hop = max(1, round(length * p.window_hop)) if p.window_hop else None
        vad = EnergyVAD() if p.vad else None
        scored = score_recording(wave, rate, length, p.logits, hop, vad, p.min_speech)
        body = p.decision(scored.pop("probability"))
        body["aggregation"] = "mean"  # of the windows with speech
        body.update(scored)
        body["fake_regions"] = fake_regions(scored["windows"], p.info.threshold)
        if explain:  # no heatmaps for waveforms
            body.update(explanation_method=None, explanations=[])
        return body, []

    def check_size(self, width: int, height: int) -> None:
        """Audio models read the sound of videos whatever their frame size."""


from dfdet.predict import audio_visual as _audio_visual  # noqa: E402,F401 (registers the audio_visual preprocessor)
