"""Square face crops around a detected box, with landmarks mapped into the crop."""

from __future__ import annotations

import cv2
import numpy as np


def crop_window(box: np.ndarray, margin: float) -> tuple[int, int, int]:
    """The square crop window around ``box``.

    Args:
        box: (4,) ``x1, y1, x2, y2``.
        margin: added on each side, as a fraction of the box's longer side (0.15 gives a window 1.3x the face).

    Returns:
        ``(x0, y0, side)`` in integer pixels; the window may extend beyond the frame.
    """
    x1, y1, x2, y2 = (float(v) for v in box)
    side = max(x2 - x1, y2 - y1) * (1 + 2 * margin)
    side_px = max(int(round(side)), 1)
    x0 = int(round((x1 + x2) / 2 - side_px / 2))
    y0 = int(round((y1 + y2) / 2 - side_px / 2))
    return x0, y0, side_px


def crop_square(frame: np.ndarray, x0: int, y0: int, side: int) -> np.ndarray:
    """The ``side`` x ``side`` window of ``frame`` (H, W, C) at ``(x0, y0)``; parts outside the frame are black."""
    h, w = frame.shape[:2]
    out = np.zeros((side, side, *frame.shape[2:]), dtype=frame.dtype)
    fx0, fy0, fx1, fy1 = max(x0, 0), max(y0, 0), min(x0 + side, w), min(y0 + side, h)
    if fx1 > fx0 and fy1 > fy0:
        out[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0] = frame[fy0:fy1, fx0:fx1]
    return out


class FaceCropper:
    """Cuts square face crops of a fixed size.

    Args:
        margin: added on each side of the face box, as a fraction of its longer side.
        size: side of the saved crop in pixels.
    """

    def __init__(self, margin: float = 0.15, size: int = 256) -> None:
        self.margin = margin
        self.size = size

    def __call__(self, frame: np.ndarray, box: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Crops one face.

        Args:
            frame: RGB uint8 (H, W, 3).
            box: (4,) ``x1, y1, x2, y2`` in frame pixels.
            landmarks: (5, 2) ``x, y`` in frame pixels.

        Returns:
            The crop (size, size, 3) uint8 and the landmarks (5, 2) float32 in crop pixels.
        """
        x0, y0, side = crop_window(box, self.margin)
        crop = crop_square(frame, x0, y0, side)
        interp = cv2.INTER_AREA if side > self.size else cv2.INTER_LINEAR
        crop = cv2.resize(crop, (self.size, self.size), interpolation=interp)
        marks = ((np.asarray(landmarks, np.float32) - [x0, y0]) * (self.size / side)).astype(np.float32)
        return crop, marks
