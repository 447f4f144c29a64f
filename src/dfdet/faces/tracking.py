"""One consistent face per video: link detections over frames into tracks, keep the best track, fill its gaps.

A video's sampled frames are seconds apart at most, so tracks are linked by box overlap (IoU) or, for faster
motion, by a centre displacement small relative to the face size. The kept track maximises the sum over its frames
of ``score * sqrt(box area)``: long, large and confident, so the crops never jump between people. Frames where the
kept face was not detected (skipped by ``detect_every`` or missed) get a box and landmarks linearly interpolated
between the nearest detections, or copied from a detection at most ``max_extrapolate`` frames away at the ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from dfdet.faces.detector import Detections


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes ``a`` (N, 4) and ``b`` (M, 4) (``x1, y1, x2, y2``); returns (N, M)."""
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    return inter / np.maximum(area_a[:, None] + area_b[None, :] - inter, 1e-6)


def _affinity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Link affinity of boxes (N, 4) and (M, 4): IoU, or 0.5 * (1 - centre shift / face size) when sizes agree."""
    iou = box_iou(a, b)
    size_a = np.sqrt(np.prod(a[:, 2:] - a[:, :2], axis=1))
    size_b = np.sqrt(np.prod(b[:, 2:] - b[:, :2], axis=1))
    shift = np.linalg.norm(((a[:, None, :2] + a[:, None, 2:]) - (b[None, :, :2] + b[None, :, 2:])) / 2, axis=2)
    ratio = np.maximum(size_a[:, None], size_b[None, :]) / np.maximum(np.minimum(size_a[:, None], size_b), 1e-6)
    near = np.where(ratio < 1.5, 0.5 * (1 - shift / np.maximum(size_a[:, None], 1e-6)), 0.0)
    return np.maximum(iou, near)


@dataclass
class Track:
    """Detections of one face: ``frames`` indexes the frame list; one box (4,), score and landmarks (5, 2) each."""

    frames: list[int] = field(default_factory=list)
    boxes: list[np.ndarray] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    landmarks: list[np.ndarray] = field(default_factory=list)

    def add(self, frame: int, det: Detections, k: int) -> None:
        self.frames.append(frame)
        self.boxes.append(det.boxes[k])
        self.scores.append(float(det.scores[k]))
        self.landmarks.append(det.landmarks[k])

    def weight(self) -> float:
        """Sum over frames of ``score * sqrt(area)``: favours long, large, confident tracks."""
        sides = [np.sqrt(max((b[2] - b[0]) * (b[3] - b[1]), 0.0)) for b in self.boxes]
        return float(np.dot(self.scores, sides))


@dataclass
class FaceTrack:
    """The kept face over all ``T`` frames.

    Attributes:
        boxes: (T, 4) float32 ``x1, y1, x2, y2`` in source pixels (NaN where ``valid`` is False).
        landmarks: (T, 5, 2) float32.
        scores: (T,) float32 detector score; for filled frames the lower score of the detections used.
        detected: (T,) bool, the box comes from a detection on that frame.
        valid: (T,) bool, the frame has a face (detected or filled).
    """

    boxes: np.ndarray
    landmarks: np.ndarray
    scores: np.ndarray
    detected: np.ndarray
    valid: np.ndarray


class FaceTracker:
    """Links per-frame detections into tracks and returns the kept face for every frame.

    Args:
        link_threshold: minimum affinity (IoU, or the centre-shift score) to continue a track.
        max_gap: a track may skip this many detected frames in a row and still be continued.
        max_extrapolate: frames before the first or after the last detection of the kept track that copy it.
        min_score: detections below this score are ignored.
    """

    def __init__(
        self, link_threshold: float = 0.3, max_gap: int = 3, max_extrapolate: int = 1, min_score: float = 0.0
    ) -> None:
        self.link_threshold = link_threshold
        self.max_gap = max_gap
        self.max_extrapolate = max_extrapolate
        self.min_score = min_score

    def link(self, detections: Sequence[Detections | None]) -> list[Track]:
        """All tracks; ``detections[t]`` is None for frames where detection did not run."""
        tracks: list[Track] = []
        active: list[tuple[Track, int]] = []  # (track, detected frames since its last detection)
        for t, det in enumerate(detections):
            if det is None:
                continue
            keep = np.flatnonzero(det.scores >= self.min_score)
            matched: set[int] = set()
            if active and len(keep):
                aff = _affinity(np.stack([tr.boxes[-1] for tr, _ in active]), det.boxes[keep])
                for flat in np.argsort(-aff, axis=None):
                    i, j = divmod(int(flat), len(keep))
                    if aff[i, j] < self.link_threshold:
                        break
                    if active[i][1] >= 0 and int(keep[j]) not in matched:
                        active[i][0].add(t, det, int(keep[j]))
                        active[i] = (active[i][0], -1)  # -1 marks "continued on this frame"
                        matched.add(int(keep[j]))
            active = [(tr, 0 if age < 0 else age + 1) for tr, age in active if age < self.max_gap]
            for j in keep.tolist():
                if j not in matched:
                    tracks.append(Track())
                    tracks[-1].add(t, det, j)
                    active.append((tracks[-1], 0))
        return tracks

    def __call__(self, detections: Sequence[Detections | None]) -> FaceTrack:
        """The kept face over ``len(detections)`` frames (all invalid when no face was found)."""
        n = len(detections)
        tracks = self.link(detections)
        out = FaceTrack(
            boxes=np.full((n, 4), np.nan, np.float32),
            landmarks=np.full((n, 5, 2), np.nan, np.float32),
            scores=np.zeros(n, np.float32),
            detected=np.zeros(n, bool),
            valid=np.zeros(n, bool),
        )
        if not tracks:
            return out
        best = max(tracks, key=Track.weight)
        pos = np.array(best.frames)
        boxes, marks, scores = np.stack(best.boxes), np.stack(best.landmarks), np.array(best.scores, np.float32)
        for t in range(n):
            k = int(np.searchsorted(pos, t))
            if k < len(pos) and pos[k] == t:
                out.boxes[t], out.landmarks[t], out.scores[t] = boxes[k], marks[k], scores[k]
                out.detected[t] = out.valid[t] = True
            elif 0 < k < len(pos):  # between two detections: interpolate
                w = (t - pos[k - 1]) / (pos[k] - pos[k - 1])
                out.boxes[t] = (1 - w) * boxes[k - 1] + w * boxes[k]
                out.landmarks[t] = (1 - w) * marks[k - 1] + w * marks[k]
                out.scores[t] = min(scores[k - 1], scores[k])
                out.valid[t] = True
            else:  # before the first or after the last detection
                near = 0 if k == 0 else len(pos) - 1
                if abs(int(pos[near]) - t) <= self.max_extrapolate:
                    out.boxes[t], out.landmarks[t], out.scores[t] = boxes[near], marks[near], scores[near]
                    out.valid[t] = True
        return out
