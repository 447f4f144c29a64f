"""Mouth opening per frame: lip aperture from 68-point landmarks, or a mouth-region measure from the face crop.

- :func:`lip_aperture`: the mean height of the mouth between the outer lips (iBUG points 50-58, 51-57, 52-56), over
  the distance between the eye centres, so it does not change with the face's size in the frame.
- :func:`mouth_darkness`: without 68 points, the open mouth shows as a dark cavity: the mean darkness below the
  face's own median brightness in a box spanning the mouth corners (MTCNN's 5 points).
"""

from __future__ import annotations

import numpy as np

OUTER_LIP_PAIRS = ((50, 58), (51, 57), (52, 56))  # upper and lower outer-lip points, iBUG 300-W order


def lip_aperture(points: np.ndarray) -> np.ndarray:
    """Outer-lip aperture of 68-point landmarks.

    Args:
        points: (T, 68, 2) or (68, 2) landmarks ``x, y``.

    Returns:
        (T,) or () aperture in units of the inter-ocular distance (about 0.2-0.6 when speaking).
    """
    p = np.asarray(points, np.float64)
    eyes = np.linalg.norm(p[..., 36:42, :].mean(-2) - p[..., 42:48, :].mean(-2), axis=-1)
    height = np.mean([np.linalg.norm(p[..., a, :] - p[..., b, :], axis=-1) for a, b in OUTER_LIP_PAIRS], axis=0)
    return height / np.maximum(eyes, 1e-6)


def mouth_darkness(frame: np.ndarray, landmarks5: np.ndarray) -> float:
    """A mouth-opening measure from the pixels, for faces without 68-point landmarks.

    Args:
        frame: RGB uint8 (H, W, 3).
        landmarks5: (5, 2) left eye, right eye, nose, left and right mouth corners (MTCNN order), frame pixels.

    Returns:
        Mean of ``max(0, 1 - luminance / reference)`` over a box spanning the mouth corners (as wide as they are
        apart, 0.4 of it above and 0.6 below their centre), ``reference`` the median luminance of the face region
        between the eyes and the mouth.
    """
    pts = np.asarray(landmarks5, np.float64)
    grey = frame.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    h, w = grey.shape
    left, right = pts[3], pts[4]
    centre, width = (left + right) / 2, max(float(np.linalg.norm(right - left)), 2.0)
    x0, x1 = int(max(centre[0] - width / 2, 0)), int(min(centre[0] + width / 2, w))
    y0, y1 = int(max(centre[1] - 0.4 * width, 0)), int(min(centre[1] + 0.6 * width, h))
    eyes = pts[:2].mean(axis=0)
    fy0, fy1 = int(max(eyes[1], 0)), int(min(centre[1], h))
    fx0, fx1 = int(max(pts[0, 0], 0)), int(min(pts[1, 0], w))
    face = grey[fy0:fy1, fx0:fx1]
    region = grey[y0:y1, x0:x1]
    if region.size == 0 or face.size == 0:
        return float("nan")
    reference = max(float(np.median(face)), 1.0)
    return float(np.clip(1 - region / reference, 0, 1).mean())
