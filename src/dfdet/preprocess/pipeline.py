"""One video in, face crops out: sample frames, detect (every k-th sampled frame, batched), track, crop."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from dfdet.faces import Detections, Dlib68Landmarks, FaceCropper, FaceDetector, FaceTrack, FaceTracker, box_iou
from dfdet.faces.landmarks68 import dlib_box
from dfdet.preprocess.video import read_media


class NoFaceError(Exception):
    """No face was found in any sampled frame; recorded as a failure."""


@dataclass
class VideoFaces:
    """The kept face of one video over its ``T`` usable frames.

    Attributes:
        frame_indices: (T,) int64 indices of the frames in the source video.
        crops: T RGB uint8 crops (S, S, 3).
        boxes: (T, 4) float32 face boxes ``x1, y1, x2, y2`` in source-frame pixels.
        landmarks: (T, 5, 2) float32 landmarks in crop pixels.
        scores: (T,) float32 detector scores (for interpolated frames, the lower of the two neighbours).
        detected: (T,) bool, the face was detected on this frame (not interpolated).
        num_frames: frames in the source video.
        sampled: frames sampled and read (T is smaller when the face was missing on some).
        landmarks68: (T, 68, 2) float32 68-point landmarks in crop pixels, or None (no 68-point backend).
        requested: frames the sampling asked for (``min(frames_per_video, num_frames)``); more than ``sampled``
            when the file broke off before them (truncated); None: not recorded (taken as ``sampled``).
    """

    frame_indices: np.ndarray
    crops: list[np.ndarray]
    boxes: np.ndarray
    landmarks: np.ndarray
    scores: np.ndarray
    detected: np.ndarray
    num_frames: int
    sampled: int
    landmarks68: np.ndarray | None = None
    requested: int | None = None

    @property
    def partial(self) -> bool:
        """Fewer frames were read than the sampling asked for (a truncated or damaged file)."""
        return self.requested is not None and self.sampled < self.requested


class VideoPreprocessor:
    """Turns a video (or an image) into face crops of one consistent person.

    Args:
        detector: face detector (batched MTCNN on downscaled frames).
        tracker: links detections over frames and keeps one face.
        cropper: square crops with margin, fixed size.
        frames_per_video: frames sampled uniformly over the whole video.
        detect_every: run the detector on every k-th sampled frame (and the last); the others get the tracked box
            interpolated from their neighbours. 1 detects on every sampled frame.
        refine_iou: a skipped frame is detected after all (second pass) when the kept face was not detected on
            both its neighbours, or their boxes overlap less than this (fast motion); None never refines.
        seek_gap: seek instead of decoding when the next sampled frame is further ahead than this (frames);
            None decodes sequentially.
        decode_timeout_s: a video whose frames take longer to read is recorded as a failure (``DecodeError``); None:
            no limit. Checked between packets and frames.
        landmarks68: optional 68-point landmark backend, run on each kept frame inside its face box.
    """

    def __init__(
        self,
        detector: FaceDetector,
        tracker: FaceTracker,
        cropper: FaceCropper,
        frames_per_video: int = 32,
        detect_every: int = 2,
        refine_iou: float | None = 0.5,
        seek_gap: int | None = None,
        landmarks68: Dlib68Landmarks | None = None,
        decode_timeout_s: float | None = None,
    ) -> None:
        if frames_per_video < 1 or detect_every < 1:
            raise ValueError("frames_per_video and detect_every must be at least 1")
        self.detector = detector
        self.tracker = tracker
        self.cropper = cropper
        self.frames_per_video = frames_per_video
        self.detect_every = detect_every
        self.refine_iou = refine_iou
        self.seek_gap = seek_gap
        self.landmarks68 = landmarks68
        self.decode_timeout_s = decode_timeout_s

    def settings(self) -> dict[str, Any]:
        """Every setting that changes the output (stored next to the results, to refuse mixing settings)."""

        def public(obj: object) -> dict[str, Any]:
            return {k: v for k, v in vars(obj).items() if not k.startswith("_") and k not in ("device", "batch_size")}

        settings = {
            "frames_per_video": self.frames_per_video,
            "detect_every": self.detect_every,
            "refine_iou": self.refine_iou,
            "detector": public(self.detector),
            "tracker": public(self.tracker),
            "cropper": public(self.cropper),
        }
        if self.landmarks68 is not None:  # only when set, so folders made without it still match
            settings["landmarks68"] = {"predictor": os.path.basename(self.landmarks68.predictor_path)}
        return settings

    def detection_plan(self, num: int) -> list[int]:
        """Positions (among ``num`` sampled frames) the detector runs on: every ``detect_every``-th and the last."""
        plan = list(range(0, num, self.detect_every))
        if num and plan[-1] != num - 1:
            plan.append(num - 1)
        return plan

    def refine_plan(self, per_frame: list[Detections | None], track: FaceTrack) -> list[int]:
        """Skipped frames whose interpolated face is doubtful: the kept face is missing on a neighbour, or it moved
        fast (neighbour boxes with IoU below ``refine_iou``)."""
        if self.refine_iou is None or not track.valid.any():
            return []
        plan = []
        for t, det in enumerate(per_frame):
            if det is not None:
                continue
            prev, nxt = max(t - 1, 0), min(t + 1, len(per_frame) - 1)
            lost = not (track.detected[prev] and track.detected[nxt])
            if lost or box_iou(track.boxes[prev][None], track.boxes[nxt][None])[0, 0] < self.refine_iou:
                plan.append(t)
        return plan

    def __call__(self, path: str | os.PathLike) -> VideoFaces:
        """Processes one video or image file.

        Raises:
            DecodeError: the file cannot be read.
            NoFaceError: no face in any sampled frame.
        """
        indices, frames, total = read_media(path, self.frames_per_video, self.seek_gap, self.decode_timeout_s)
        per_frame: list[Detections | None] = [None] * len(frames)
        plan = self.detection_plan(len(frames))
        while plan:
            for pos, det in zip(plan, self.detector.detect([frames[p] for p in plan]), strict=True):
                per_frame[pos] = det
            track = self.tracker(per_frame)
            plan = self.refine_plan(per_frame, track)
        keep = np.flatnonzero(track.valid)
        if not len(keep):
            raise NoFaceError(f"no face in {len(frames)} sampled frames")
        crops, marks, marks68 = [], [], []
        for t in keep:
            points = track.landmarks[t]
            if self.landmarks68 is not None:  # mapped into the crop together with the 5 points
                points = np.concatenate([points, self.landmarks68(frames[t], dlib_box(track.boxes[t]))])
            crop, lm = self.cropper(frames[t], track.boxes[t], points)
            crops.append(crop)
            marks.append(lm[:5])
            marks68.append(lm[5:])
        return VideoFaces(
            frame_indices=indices[keep],
            crops=crops,
            boxes=track.boxes[keep],
            landmarks=np.stack(marks),
            scores=track.scores[keep],
            detected=track.detected[keep],
            num_frames=total,
            sampled=len(frames),
            landmarks68=np.stack(marks68) if self.landmarks68 is not None else None,
            requested=min(self.frames_per_video, total),
        )
