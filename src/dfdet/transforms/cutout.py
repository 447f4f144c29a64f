"""Landmark-guided cut-outs of face parts, as in the DFDC winner's training (Seferbekov 2020): blacking out the eyes,
the nose, the mouth or one half of the face makes a detector look at the whole face instead of one artefact."""

from __future__ import annotations

import numpy as np

PARTS = ("eyes", "nose", "mouth", "left_half", "right_half")


def face_part_cutout(image: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Blacks out one randomly chosen face part located by 5-point landmarks.

    Args:
        image: (H, W, 3) uint8 face crop; not modified.
        landmarks: 5 points (left eye, right eye, nose, left and right mouth corners) as (5, 2) or flat (10,),
            in the crop's pixels.
        rng: the random generator (the part and the band thickness).

    Returns:
        A copy of ``image`` with the part set to 0.
    """
    pts = np.asarray(landmarks, dtype=np.float32).reshape(-1, 2)[:5]
    out = image.copy()
    h, w = image.shape[:2]
    eye_dist = max(float(np.linalg.norm(pts[1] - pts[0])), 4.0)
    half = eye_dist * rng.uniform(0.25, 0.4)  # half-thickness of the band
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    part = PARTS[int(rng.integers(len(PARTS)))]

    def band(a: np.ndarray, b: np.ndarray, extend: float) -> np.ndarray:
        """Pixels within ``half`` of the segment a-b, the segment lengthened by ``extend`` at both ends."""
        d = b - a
        length = max(float(np.linalg.norm(d)), 1e-6)
        u = d / length
        a, length = a - u * extend, length + 2 * extend
        t = np.clip((xs - a[0]) * u[0] + (ys - a[1]) * u[1], 0, length)
        return np.hypot(xs - (a[0] + t * u[0]), ys - (a[1] + t * u[1])) <= half

    if part == "eyes":
        mask = band(pts[0], pts[1], extend=0.4 * eye_dist)
    elif part == "nose":
        mask = band((pts[0] + pts[1]) / 2, pts[2], extend=0.1 * eye_dist)
    elif part == "mouth":
        mask = band(pts[3], pts[4], extend=0.25 * eye_dist)
    else:  # one side of the line through the eye centre and the mouth centre
        top, bottom = (pts[0] + pts[1]) / 2, (pts[3] + pts[4]) / 2
        side = (xs - top[0]) * (bottom[1] - top[1]) - (ys - top[1]) * (bottom[0] - top[0])
        mask = side > 0 if part == "left_half" else side < 0
    out[mask] = 0
    return out
