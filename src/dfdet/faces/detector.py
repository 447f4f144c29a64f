"""Face detection with facenet-pytorch's MTCNN: batched over frames, on downscaled copies of large frames.

The networks and weights are facenet-pytorch's (the weights ship inside its wheel, nothing is downloaded); the
cascade runs in :mod:`dfdet.faces.mtcnn`, a port that does not import facenet-pytorch's package (and torchvision).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import torch


@dataclass
class Detections:
    """The faces found in one frame, in pixels of the source frame.

    Attributes:
        boxes: (K, 4) float32, ``x1, y1, x2, y2``.
        scores: (K,) float32 detector probabilities in [0, 1].
        landmarks: (K, 5, 2) float32 ``x, y`` of the left eye, right eye, nose, left and right mouth corners.
    """

    boxes: np.ndarray
    scores: np.ndarray
    landmarks: np.ndarray

    @classmethod
    def empty(cls) -> Detections:
        """No face."""
        return cls(np.zeros((0, 4), np.float32), np.zeros((0,), np.float32), np.zeros((0, 5, 2), np.float32))

    def __len__(self) -> int:
        return len(self.boxes)


class FaceDetector:
    """MTCNN over a batch of frames; frames whose longer side exceeds ``max_side`` are downscaled first.

    Detection cost grows with the pixel count, while faces in deepfake datasets are large: detecting on a 320-px
    copy of a 1080p frame finds the same faces several times faster; boxes and landmarks are mapped back to the
    source frame. The networks run in channels-last memory format (identical outputs, faster on CPU).

    Args:
        max_side: longer side of the frame as detected, in pixels; None detects at full resolution.
        min_face_size: smallest face searched, in pixels of the frame as detected (after downscaling); larger
            values make detection faster.
        thresholds: MTCNN's three stage thresholds.
        factor: scale step of the image pyramid.
        batch_size: frames per MTCNN call.
        device: torch device of the networks (``cpu``, ``cuda``).
    """

    def __init__(
        self,
        max_side: int | None = 320,
        min_face_size: int = 40,
        thresholds: Sequence[float] = (0.6, 0.7, 0.7),
        factor: float = 0.709,
        batch_size: int = 32,
        device: str = "cpu",
    ) -> None:
        self.max_side = max_side
        self.min_face_size = min_face_size
        self.thresholds = [float(t) for t in thresholds]
        self.factor = factor
        self.batch_size = batch_size
        self.device = device
        self._mtcnn: Any = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_mtcnn"] = None  # networks are rebuilt in each worker process
        return state

    @property
    def mtcnn(self) -> Any:
        """The MTCNN networks and cascade (:class:`dfdet.faces.mtcnn.Mtcnn`), built on first use."""
        if self._mtcnn is None:
            from dfdet.faces.mtcnn import Mtcnn

            self._mtcnn = Mtcnn(self.min_face_size, self.thresholds, self.factor, torch.device(self.device))
            for net in (self._mtcnn.pnet, self._mtcnn.rnet, self._mtcnn.onet):
                net.to(memory_format=torch.channels_last)  # same results; CPU max-pooling is ~6x faster in NHWC
        return self._mtcnn

    def scale_for(self, height: int, width: int) -> float:
        """Downscaling factor (<= 1) applied to a ``height`` x ``width`` frame before detection."""
        if self.max_side is None:
            return 1.0
        return min(1.0, self.max_side / max(height, width))

    def detect(self, frames: Sequence[np.ndarray]) -> list[Detections]:
        """Detects every face in each frame.

        Args:
            frames: RGB uint8 arrays (H, W, 3); frames of different sizes are detected in separate batches.

        Returns:
            One :class:`Detections` per frame, in source-frame pixels, highest score first.
        """
        out: list[Detections | None] = [None] * len(frames)
        by_shape: dict[tuple[int, ...], list[int]] = {}
        for i, frame in enumerate(frames):
            by_shape.setdefault(frame.shape, []).append(i)
        for shape, indices in by_shape.items():
            scale = self.scale_for(shape[0], shape[1])
            size = (max(1, round(shape[1] * scale)), max(1, round(shape[0] * scale)))
            if min(size) < max(12, self.min_face_size):  # smaller than any face MTCNN can find (it would crash)
                continue
            for start in range(0, len(indices), self.batch_size):
                chunk = indices[start : start + self.batch_size]
                batch = np.stack(
                    [
                        frames[i] if scale == 1.0 else cv2.resize(frames[i], size, interpolation=cv2.INTER_AREA)
                        for i in chunk
                    ]
                )
                for i, det in zip(chunk, self._detect_batch(batch), strict=True):
                    det.boxes /= np.float32(scale)
                    det.landmarks /= np.float32(scale)
                    out[i] = det
        return [d if d is not None else Detections.empty() for d in out]

    def _detect_batch(self, batch: np.ndarray) -> list[Detections]:
        """MTCNN on (N, h, w, 3) uint8 frames of one size; returns detections in the batch's pixels."""
        with torch.inference_mode():
            found = self.mtcnn.detect(batch)
        result = []
        for boxes, points in found:
            if len(boxes) == 0:
                result.append(Detections.empty())
                continue
            b = np.asarray(boxes[:, :4], dtype=np.float32).reshape(-1, 4)
            p = np.asarray(boxes[:, 4], dtype=np.float32).reshape(-1)
            lm = np.asarray(points, dtype=np.float32).reshape(-1, 5, 2)
            order = np.argsort(-p, kind="stable")
            result.append(Detections(b[order].copy(), p[order].copy(), lm[order].copy()))
        return result
