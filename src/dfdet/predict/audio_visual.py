"""Prediction for audio-visual models (contract modality ``audio_visual``): clips of face crops from the face
pipeline, each with the sound centred on it (as :class:`~dfdet.data.datasets.AudioVisualClipDataset` makes them in
training), scored together; the clip scores are placed in time and turned into fake segments
(:func:`~dfdet.metrics.localisation.segments_from_scores` at the model's threshold)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dfdet.predict.errors import MediaError
from dfdet.predict.media import MediaType
from dfdet.predict.preprocessors import ExplainedFace, FacePreprocessor, read_report, register
from dfdet.predict.scoring import aggregate, clip_scores_per_frame, make_clips, sigmoid, to_input
from dfdet.preprocess.pipeline import NoFaceError
from dfdet.preprocess.video import DecodeError

if TYPE_CHECKING:
    from dfdet.predict.predictor import Predictor


@register("audio_visual")
class AudioVisualPreprocessor:
    """Videos with sound: the face track as for face models, clips of the model's length, the sound of each clip.

    A video without a sound track is scored with silence (as in training) and says so (``audio_present``).
    """

    def __init__(self, predictor: Predictor) -> None:
        self.predictor = predictor
        self.faces = FacePreprocessor(predictor)  # the face pipeline with the model's crop margin

    def check_size(self, width: int, height: int) -> None:
        self.faces.check_size(width, height)

    def score(self, path: Path, media: MediaType, explain: bool) -> tuple[dict[str, Any], list[ExplainedFace]]:
        from dfdet.data.audio.crops import centred_window
        from dfdet.data.audio.io import NoAudioTrackError, extract_audio_track, video_frame_rate
        from dfdet.metrics.localisation import segments_from_scores

        if media.kind != "video":
            raise MediaError("wrong_modality", "this model scores videos with sound (a face and a voice together)")
        try:
            found = self.faces.faces(path)
            fps = video_frame_rate(path)
        except DecodeError as exc:
            raise MediaError("unreadable", f"cannot decode the video: {exc}") from exc
        except NoFaceError as exc:
            raise MediaError("no_face", f"no face found in the video ({exc})") from exc
        info = self.predictor.info
        rate, samples = int(info.sample_rate or 16000), int(info.contract.num_samples or 0)
        try:
            wave: np.ndarray | None = extract_audio_track(path, rate)
        except NoAudioTrackError:
            wave = None
        frames = to_input(found.crops, info.input_size, info.mean, info.std)
        clip_len = int(info.clip_len or 1)
        clips, starts = make_clips(frames, clip_len, info.clip_stride or clip_len)
        spans = [
            (int(found.frame_indices[s]), int(found.frame_indices[min(s + clip_len, len(frames)) - 1])) for s in starts
        ]
        silence = np.zeros(samples, np.float32)
        sound = np.stack(
            [silence if wave is None else centred_window(wave, (a + b + 1) / 2 / fps * rate, samples) for a, b in spans]
        )
        probs = sigmoid(self.predictor.logits({"clip": clips, "audio": sound}))
        times = [{"start_s": round(a / fps, 3), "end_s": round((b + 1) / fps, 3)} for a, b in spans]
        body = self.predictor.decision(aggregate(probs, info.aggregation, info.top_k))
        per_frame = clip_scores_per_frame(len(frames), starts, clip_len, probs)
        centres = [(t["start_s"] + t["end_s"]) / 2 for t in times]
        window = float(np.median([t["end_s"] - t["start_s"] for t in times]))
        segments = segments_from_scores(probs, centres, (info.threshold,), window=window)
        body.update(
            audio_present=wave is not None,
            num_frames=int(found.num_frames),
            frames_sampled=int(found.sampled),
            **read_report(found, media),
            clips=[{**t, "score": float(p)} for t, p in zip(times, probs, strict=True)],
            fake_segments=[{"start_s": s, "end_s": e, "confidence": round(c, 4)} for c, s, e in segments],
            frames=[{"index": int(found.frame_indices[t]), "score": float(per_frame[t])} for t in range(len(frames))],
        )
        if explain:  # heatmaps of two-input models are not implemented yet
            body.update(explanation_method=None, explanations=[])
        return body, []
