"""The training-free sync measure of a video file: decode, find the face, read the lips, correlate with the sound.

Two decoding passes with PyAV keep memory flat whatever the length. The first detects faces (:class:`FaceDetector`)
on one frame every ``detect_every_s`` seconds (on small copies; once more at up to 640 px when that finds a face in
fewer than half of them, e.g. the small face of a wide 1080p shot) and links them into one track
(:class:`FaceTracker`, which fills the frames in between). The second crops each frame's face, scaled so the face
is ``face_side`` pixels wide, and reads the mouth opening two ways: 68-point lip aperture
(:class:`~dfdet.faces.landmarks68.Dlib68Landmarks`) and the mouth-region darkness
(:func:`~dfdet.sync.mouth.mouth_darkness`). With ``mouth="auto"`` dlib's points give the estimate unless the pixels'
correlation peak is clearly the clearer one (confidence 1.5 times dlib's): the points are the better reading of
real faces, the pixels of faces dlib was not trained on (cartoons, renders such as the built-in talking clips). A
fixed preference (not the higher confidence of each copy) keeps the choice the same for copies of a video whose
sound is shifted. The sound track
is decoded at 16 kHz, aligned on the streams' start times, and its speech-band envelope is taken at the video's
frame times (:func:`dfdet.data.audio.dsp.speech_envelope`); :func:`estimate_offset` does the rest.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import av
import cv2
import numpy as np

from dfdet.data.audio.dsp import speech_envelope
from dfdet.faces.detector import FaceDetector
from dfdet.faces.landmarks68 import Dlib68Landmarks, LandmarkBackendError, dlib_box
from dfdet.faces.tracking import FaceTrack, FaceTracker
from dfdet.sync.correlate import estimate_offset, sync_score
from dfdet.sync.mouth import lip_aperture, mouth_darkness

SAMPLE_RATE = 16000
WORK_SIDE = 640  # frames are detected on copies whose longer side is at most this
PIXELS_MARGIN = 1.5  # mouth="auto" reads the pixels when their confidence exceeds dlib's by this factor


@dataclass
class SyncReport:
    """The sync measure of one video.

    Attributes:
        offset_frames: frames by which the sound comes after the lips (lips lead real speech by about 0-3).
        offset_s: the same in seconds.
        confidence: peak of the correlation curve above its median (about 0.1 weak, 0.3+ clear).
        correlation: the curve's peak.
        sync_score: the curve above its median at natural timing (see :func:`dfdet.sync.correlate.sync_score`).
        fps: frame rate.
        frames: frames decoded.
        face_fraction: fraction of frames with a face.
        mouth: ``landmarks68`` or ``mouth_region``: the reading of the mouth opening that gave the estimate.
        windows: per window: ``start``, ``end`` (s), ``offset_frames``, ``offset_s``, ``confidence``, ``correlation``.
        curve: correlation per lag ``-max_lag .. max_lag``.
    """

    offset_frames: int
    offset_s: float
    confidence: float
    correlation: float
    sync_score: float
    fps: float
    frames: int
    face_fraction: float
    mouth: str
    windows: list[dict] = field(default_factory=list)
    curve: list[float] = field(default_factory=list, repr=False)

    def as_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass
class Observation:
    """What the sync measure reads from a video: frame rate, frame count, mouth readings (name -> (T,), NaN without
    a face) and the sound (16 kHz, sample 0 at the first frame)."""

    fps: float
    frames: int
    readings: dict[str, np.ndarray]
    wave: np.ndarray = field(repr=False)


def _stream_start(stream: av.stream.Stream) -> float:
    return float(stream.start_time * stream.time_base) if stream.start_time is not None and stream.time_base else 0.0


class SyncMeasure:
    """Measures the audio-visual offset of video files.

    Args:
        detector: face detector; None: MTCNN on copies at most 256 px on the longer side.
        tracker: links detections; None: a tracker that fills up to ``detect_every_s`` between detections.
        mouth: ``auto`` (dlib's points unless the pixels are clearly clearer), ``landmarks68`` (dlib's points where
            dlib and its model are installed, else the pixels) or ``mouth_region`` (the pixels only).
        detect_every_s: seconds between frames that are detected.
        face_side: the face is scaled to this width (pixels) before the lips are read.
        max_lag: lags searched, frames each way.
        window_s, hop_s: window length and step in seconds.
        highpass_s: span of the moving average subtracted from both tracks, seconds.
    """

    def __init__(
        self,
        detector: FaceDetector | None = None,
        tracker: FaceTracker | None = None,
        mouth: str = "auto",
        detect_every_s: float = 0.5,
        face_side: int = 160,
        max_lag: int = 15,
        window_s: float = 3.0,
        hop_s: float = 0.5,
        highpass_s: float = 2.0,
    ) -> None:
        self.detector = detector or FaceDetector(max_side=256, min_face_size=32)
        self.tracker = tracker
        if mouth not in ("auto", "landmarks68", "mouth_region"):
            raise ValueError(f"mouth must be auto, landmarks68 or mouth_region, not {mouth!r}")
        self.landmarks: Dlib68Landmarks | None = None
        if mouth != "mouth_region":
            try:
                self.landmarks = Dlib68Landmarks()
            except LandmarkBackendError:
                self.landmarks = None
        self.choice = mouth
        self.detect_every_s = detect_every_s
        self.face_side = face_side
        self.max_lag = max_lag
        self.window_s, self.hop_s, self.highpass_s = window_s, hop_s, highpass_s

    def track(self, path: str | os.PathLike) -> tuple[FaceTrack, float, float, int]:
        """First pass: the face track of every frame, the frame rate, the video's start time and the frame count."""
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise ValueError(f"{path} has no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            fps = float(stream.average_rate or stream.guessed_rate or 25)
            every = max(1, round(self.detect_every_s * fps))
            picked: dict[int, np.ndarray] = {}
            n, scale = 0, 1.0
            for n, frame in enumerate(container.decode(stream)):  # noqa: B007 - n counts the frames
                if n % every == 0:
                    image = frame.to_ndarray(format="rgb24")
                    scale = min(1.0, WORK_SIDE / max(image.shape[:2]))
                    picked[n] = image if scale == 1 else cv2.resize(image, None, fx=scale, fy=scale,
                                                                     interpolation=cv2.INTER_AREA)  # fmt: skip
            count = n + 1 if picked else 0
            start = _stream_start(stream)
        if count < 2 * self.max_lag + 8:  # before any detection: too short to search the lags
            raise ValueError(f"{count} frames are too few for lags of ±{self.max_lag} frames")
        tracker = self.tracker or FaceTracker(max_gap=3, max_extrapolate=every)
        track = tracker(self._detections(list(picked.values()), list(picked), count, scale, self.detector))
        if track.detected.sum() < 0.5 * len(picked) and self.detector.max_side is not None:
            # faces too small for the detector's copy (a wide news shot in 1080p): once more at the work size
            finer = FaceDetector(max_side=None, min_face_size=24, thresholds=self.detector.thresholds)
            retry = tracker(self._detections(list(picked.values()), list(picked), count, scale, finer))
            track = retry if retry.detected.sum() > track.detected.sum() else track
        return track, fps, start, count

    @staticmethod
    def _detections(frames: list[np.ndarray], indices: list[int], count: int, scale: float,
                    detector: FaceDetector) -> list:  # fmt: skip
        """Per frame of the video: the detections of the picked frames (in source pixels), None elsewhere."""
        detections: list = [None] * count
        for index, det in zip(indices, detector.detect(frames), strict=True):
            det.boxes /= np.float32(scale)
            det.landmarks /= np.float32(scale)
            detections[index] = det
        return detections

    def mouth(self, path: str | os.PathLike, track: FaceTrack) -> dict[str, np.ndarray]:
        """Second pass: the mouth opening of every frame (NaN without a face), by each available reading."""
        readings = {"mouth_region": np.full(len(track.valid), np.nan)}
        if self.landmarks is not None:
            readings["landmarks68"] = np.full(len(track.valid), np.nan)
        side = self.face_side
        inner = np.array([0.25 * side, 0.25 * side, 1.25 * side, 1.25 * side], np.float32)  # the box in the crop
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for n, frame in enumerate(container.decode(stream)):
                if n >= len(track.valid) or not track.valid[n]:
                    continue
                box = dlib_box(track.boxes[n])
                s = side / max(float(box[2] - box[0]), 1.0)  # frame -> crop scale
                x0, y0 = box[0] - 0.25 * (box[2] - box[0]), box[1] - 0.25 * (box[3] - box[1])
                affine = np.array([[s, 0, -x0 * s], [0, s, -y0 * s]], np.float32)
                crop = cv2.warpAffine(frame.to_ndarray(format="rgb24"), affine, (round(1.5 * side),) * 2,
                                      flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
                points = (track.landmarks[n] - np.array([x0, y0], np.float32)) * s
                readings["mouth_region"][n] = mouth_darkness(crop, points)
                if self.landmarks is not None:
                    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
                    readings["landmarks68"][n] = float(lip_aperture(self.landmarks(grey, inner)))
        return readings

    def observe(self, path: str | os.PathLike) -> Observation:
        """Decodes a video with sound: its mouth readings and its sound track aligned on the first frame.

        Raises:
            NoAudioTrackError: the video has no sound.
            ValueError: no face found.
        """
        from dfdet.data.audio.io import extract_audio_track

        wave = extract_audio_track(path, SAMPLE_RATE)
        track, fps, video_start, count = self.track(path)
        if not track.valid.any():
            raise ValueError(f"no face found in {path}")
        readings = self.mouth(path, track)
        with av.open(str(path)) as container:
            audio_start = _stream_start(container.streams.audio[0])
        skip = round((video_start - audio_start) * SAMPLE_RATE)  # sound samples before the first frame
        wave = wave[skip:] if skip >= 0 else np.concatenate([np.zeros(-skip, np.float32), wave])
        return Observation(fps, count, readings, wave)

    def estimate(self, seen: Observation, wave: np.ndarray | None = None) -> SyncReport:
        """The sync measure of an observed video, with its own sound or with ``wave`` (16 kHz, aligned on the
        first frame) in its place.

        Raises:
            ValueError: too few frames for the lags searched, or too few with a face.
        """
        envelope = speech_envelope(seen.wave if wave is None else wave, SAMPLE_RATE, seen.fps, seen.frames)
        estimates = {}
        for how, mouth in seen.readings.items():
            valid = np.isfinite(mouth)
            estimates[how] = (valid, *estimate_offset(mouth, envelope, seen.fps, self.max_lag, self.window_s,
                                                      self.hop_s, self.highpass_s, valid))  # fmt: skip
        if self.choice == "auto":  # dlib's points unless the pixels' peak is clearly the clearer one
            conf = {k: v[1].confidence for k, v in estimates.items()}
            points = "landmarks68" in conf and PIXELS_MARGIN * conf["landmarks68"] >= conf["mouth_region"]
            how = "landmarks68" if points else "mouth_region"
        else:  # the one asked for, where it was read (no dlib: the pixels)
            how = self.choice if self.choice in estimates else "mouth_region"
        valid, video, windows = estimates[how]
        fps = seen.fps
        return SyncReport(
            offset_frames=video.offset,
            offset_s=round(video.offset / fps, 4),
            confidence=round(video.confidence, 4),
            correlation=round(video.correlation, 4),
            sync_score=round(sync_score(video.curve, fps), 4),
            fps=fps,
            frames=seen.frames,
            face_fraction=round(float(valid.mean()), 4),
            mouth=how,
            windows=[w.as_dict(fps) for w in windows],
            curve=[round(float(c), 4) for c in video.curve],
        )

    def result(self, path: str | os.PathLike) -> dict:
        """The measure as a prediction result's ``sync`` entry: the offset, confidence and sync score with the
        windows (no curve); or ``error`` {code, message} when the video has no sound (``no_audio_track``) or the lips
        cannot be read (``not_measurable``: no face, too short)."""
        from dfdet.data.audio.io import NoAudioTrackError

        try:
            report = self(path).as_dict()
        except NoAudioTrackError as exc:
            return {"error": {"code": "no_audio_track", "message": str(exc)}}
        except ValueError as exc:
            return {"error": {"code": "not_measurable", "message": str(exc)}}
        report.pop("curve")
        return report

    def __call__(self, path: str | os.PathLike) -> SyncReport:
        """The sync measure of a video with sound (:meth:`observe`, then :meth:`estimate`)."""
        return self.estimate(self.observe(path))
