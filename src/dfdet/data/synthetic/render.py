"""Procedural face renderer behind the built-in synthetic dataset.

Faces are drawn from soft-edged ellipses in a face-local coordinate frame, so pose (translation, scale, roll, yaw,
pitch), lighting and expression change smoothly from frame to frame while identity stays fixed. Everything is plain
numpy on float32 images in [0, 1] with shape (H, W, 3); randomness comes only from the ``np.random.Generator``
arguments.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_SKIN_LIGHT = np.array([0.96, 0.80, 0.69], dtype=np.float32)
_SKIN_DARK = np.array([0.36, 0.23, 0.16], dtype=np.float32)
_HAIR = np.array(
    [[0.08, 0.06, 0.05], [0.30, 0.18, 0.10], [0.55, 0.40, 0.22], [0.80, 0.68, 0.45], [0.45, 0.45, 0.45]],
    dtype=np.float32,
)
_IRIS = np.array([[0.30, 0.18, 0.08], [0.25, 0.45, 0.70], [0.30, 0.50, 0.30], [0.12, 0.08, 0.05]], dtype=np.float32)


@dataclass(frozen=True)
class Identity:
    """Fixed facial geometry, colouring and skin texture of one synthetic person (face-local units)."""

    skin: np.ndarray  # (3,) RGB
    hair: np.ndarray  # (3,) RGB
    iris: np.ndarray  # (3,) RGB
    lips: np.ndarray  # (3,) RGB
    face_ax: float
    face_ay: float
    eye_dx: float
    eye_y: float
    eye_rx: float
    eye_ry: float
    brow_gap: float
    nose_len: float
    nose_w: float
    mouth_y: float
    mouth_w: float
    hair_top: float
    texture: np.ndarray  # (G, G) low-frequency skin-texture grid in [-1, 1]


@dataclass(frozen=True)
class FrameParams:
    """Per-frame pose, lighting and expression (image coordinates normalised to [0, 1])."""

    cx: float
    cy: float
    scale: float
    roll: float
    yaw: float
    pitch: float
    light: np.ndarray  # (3,) unit light direction
    ambient: float
    gain: np.ndarray  # (3,) colour cast / exposure
    mouth_open: float
    blink: float


def sample_identity(rng: np.random.Generator) -> Identity:
    """Draws one identity: skin tone, face shape, feature placement and a skin-texture field."""
    tone = rng.uniform()
    skin = (1 - tone) * _SKIN_LIGHT + tone * _SKIN_DARK + rng.normal(0, 0.025, 3).astype(np.float32)
    lips = np.clip(skin * np.array([0.85, 0.55, 0.55]) + rng.normal(0, 0.03, 3), 0, 1).astype(np.float32)
    return Identity(
        skin=np.clip(skin, 0, 1).astype(np.float32),
        hair=_HAIR[rng.integers(len(_HAIR))] * rng.uniform(0.8, 1.2),
        iris=_IRIS[rng.integers(len(_IRIS))],
        lips=lips,
        face_ax=rng.uniform(0.25, 0.31),
        face_ay=rng.uniform(0.33, 0.40),
        eye_dx=rng.uniform(0.085, 0.12),
        eye_y=rng.uniform(-0.09, -0.04),
        eye_rx=rng.uniform(0.034, 0.05),
        eye_ry=rng.uniform(0.017, 0.026),
        brow_gap=rng.uniform(0.035, 0.055),
        nose_len=rng.uniform(0.07, 0.12),
        nose_w=rng.uniform(0.022, 0.035),
        mouth_y=rng.uniform(0.13, 0.18),
        mouth_w=rng.uniform(0.06, 0.095),
        hair_top=rng.uniform(-0.05, 0.25),
        texture=rng.uniform(-1, 1, (8, 8)).astype(np.float32),
    )


def _soft_ellipse(u: np.ndarray, v: np.ndarray, cx: float, cy: float, ax: float, ay: float, px: float) -> np.ndarray:
    """Anti-aliased coverage of an axis-aligned ellipse in face-local coordinates; ``px`` is one pixel there."""
    d = np.sqrt(((u - cx) / ax) ** 2 + ((v - cy) / ay) ** 2) - 1.0
    return np.clip(0.5 - d * min(ax, ay) / px, 0.0, 1.0)


def _bilinear(grid: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Samples ``grid`` (G, G) at coordinates u, v in [-1, 1] (clamped) with bilinear interpolation."""
    g = grid.shape[0] - 1
    x = np.clip((u + 1) * 0.5 * g, 0, g - 1e-4)
    y = np.clip((v + 1) * 0.5 * g, 0, g - 1e-4)
    x0, y0 = x.astype(int), y.astype(int)
    fx, fy = x - x0, y - y0
    top = grid[y0, x0] * (1 - fx) + grid[y0, x0 + 1] * fx
    bot = grid[y0 + 1, x0] * (1 - fx) + grid[y0 + 1, x0 + 1] * fx
    return top * (1 - fy) + bot * fy


def face_coords(size: int, fp: FrameParams) -> tuple[np.ndarray, np.ndarray, float]:
    """Maps every pixel to face-local coordinates (u right, v down), undoing translation, scale and roll.

    Returns:
        u, v: arrays of shape (size, size); px: the size of one pixel in face-local units.
    """
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    x = (xs + 0.5) / size - fp.cx
    y = (ys + 0.5) / size - fp.cy
    c, s = np.cos(fp.roll), np.sin(fp.roll)
    u = (c * x + s * y) / fp.scale
    v = (-s * x + c * y) / fp.scale
    return u, v, 1.0 / (size * fp.scale)


def feature_points(ident: Identity, fp: FrameParams) -> dict[str, tuple[float, float]]:
    """Face-local positions of the inner features after yaw/pitch parallax."""
    shift_u = np.sin(fp.yaw) * ident.face_ax * 0.55
    shift_v = np.sin(fp.pitch) * ident.face_ay * 0.35
    squeeze = np.cos(fp.yaw)
    return {
        "left_eye": (-ident.eye_dx * squeeze + shift_u, ident.eye_y + shift_v),
        "right_eye": (ident.eye_dx * squeeze + shift_u, ident.eye_y + shift_v),
        "nose": (shift_u * 1.25, ident.eye_y + ident.nose_len + shift_v * 1.2),
        "mouth_left": (-ident.mouth_w * squeeze + shift_u, ident.mouth_y + shift_v),
        "mouth_right": (ident.mouth_w * squeeze + shift_u, ident.mouth_y + shift_v),
    }


def to_image_xy(u: float, v: float, fp: FrameParams, size: int) -> tuple[float, float]:
    """Inverse of :func:`face_coords` for one point: face-local (u, v) to pixel (x, y)."""
    c, s = np.cos(fp.roll), np.sin(fp.roll)
    x = (c * u - s * v) * fp.scale + fp.cx
    y = (s * u + c * v) * fp.scale + fp.cy
    return float(x * size), float(y * size)


def render_face(ident: Identity, fp: FrameParams, background: np.ndarray) -> np.ndarray:
    """Draws ``ident`` with pose/light/expression ``fp`` over ``background`` (H, W, 3) and returns (H, W, 3)."""
    size = background.shape[0]
    u, v, px = face_coords(size, fp)
    img = background.copy()

    def paint(alpha: np.ndarray, colour: np.ndarray | np.floating | float) -> None:
        rows = np.flatnonzero(alpha.any(axis=1))  # only the rows the element touches
        if rows.size:
            sl = slice(rows[0], rows[-1] + 1)
            img[sl] += alpha[sl, :, None] * (np.asarray(colour, dtype=np.float32) - img[sl])

    ax, ay = ident.face_ax, ident.face_ay
    # Hair behind the head and the neck.
    paint(_soft_ellipse(u, v, 0, -0.06, ax * 1.12, ay * 1.02, px) * (v < 0.05), ident.hair * 0.8)
    neck = np.clip(0.5 - (np.abs(u) - ax * 0.55) / px, 0, 1) * (v > 0.1) * (v < 0.7)
    paint(neck, ident.skin * 0.78)
    # Skin with Lambertian shading of an ellipsoid, rotated by yaw and pitch, and the identity's texture.
    face = _soft_ellipse(u, v, 0, 0, ax, ay, px)
    nx, ny = np.clip(u / ax, -1, 1), np.clip(v / ay, -1, 1)
    nz = np.sqrt(np.clip(1 - nx**2 - ny**2, 0, 1))
    cyw, syw = np.cos(fp.yaw), np.sin(fp.yaw)
    nx, nz = cyw * nx + syw * nz, -syw * nx + cyw * nz
    shade = fp.ambient + (1 - fp.ambient) * np.clip(nx * fp.light[0] + ny * fp.light[1] + nz * fp.light[2], 0, 1)
    tex = 1 + 0.07 * _bilinear(ident.texture, u / ax, v / ay)
    skin = ident.skin * (shade * tex)[..., None]
    img[:] = img * (1 - face[..., None]) + skin * face[..., None]
    pts = feature_points(ident, fp)
    sq = np.cos(fp.yaw)
    # Eyes: sclera, iris, pupil, eyelid (blink), brow.
    for name in ("left_eye", "right_eye"):
        ex, ey = pts[name]
        open_ry = ident.eye_ry * max(1 - fp.blink, 0.08)
        paint(_soft_ellipse(u, v, ex, ey, ident.eye_rx * sq, open_ry, px), np.float32(0.93))
        iris = _soft_ellipse(u, v, ex + 0.3 * ident.eye_rx * np.sin(fp.yaw), ey, ident.eye_ry * 0.9, open_ry, px)
        paint(iris, ident.iris)
        paint(
            _soft_ellipse(u, v, ex + 0.3 * ident.eye_rx * np.sin(fp.yaw), ey, ident.eye_ry * 0.4, open_ry * 0.5, px),
            np.float32(0.05),
        )
        paint(_soft_ellipse(u, v, ex, ey - ident.brow_gap, ident.eye_rx * 1.25 * sq, 0.009, px), ident.hair * 0.7)
    # Nose: a shaded ridge and two nostrils.
    nxp, nyp = pts["nose"]
    paint(
        _soft_ellipse(u, v, nxp, nyp - ident.nose_len * 0.4, ident.nose_w * 0.45, ident.nose_len * 0.5, px) * 0.35,
        ident.skin * 0.7,
    )
    for side in (-1, 1):
        paint(
            _soft_ellipse(u, v, nxp + side * ident.nose_w * 0.5 * sq, nyp, ident.nose_w * 0.28, 0.008, px) * 0.8,
            ident.skin * 0.35,
        )
    # Mouth: lips and, when open, the dark inside.
    mlx, mly = pts["mouth_left"]
    mrx, _ = pts["mouth_right"]
    mcx, mw = (mlx + mrx) / 2, (mrx - mlx) / 2
    paint(_soft_ellipse(u, v, mcx, mly, mw, 0.018 + 0.03 * fp.mouth_open, px), ident.lips)
    if fp.mouth_open > 0.05:
        paint(_soft_ellipse(u, v, mcx, mly, mw * 0.8, 0.026 * fp.mouth_open, px), np.float32(0.12))
    # Fringe: hair over the top of the face.
    fringe = face * np.clip(0.5 - (v - (-ay + ident.hair_top * ay)) / px, 0, 1)
    paint(fringe, ident.hair)
    return np.clip(img * fp.gain, 0, 1)


def render_background(size: int, rng: np.random.Generator) -> np.ndarray:
    """A room-like background: a colour gradient with a few blurred blobs and panels, shape (size, size, 3)."""
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) / size
    a, b = rng.uniform(0.1, 0.9, 3), rng.uniform(0.1, 0.9, 3)
    angle = rng.uniform(0, 2 * np.pi)
    t = np.clip(0.5 + (np.cos(angle) * (xs - 0.5) + np.sin(angle) * (ys - 0.5)), 0, 1)[..., None]
    img = (a * (1 - t) + b * t).astype(np.float32)
    for _ in range(rng.integers(2, 6)):
        cx, cy, r = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.05, 0.3)
        m = np.exp(-(((xs - cx) ** 2 + (ys - cy) ** 2) / (2 * r**2)))[..., None] * rng.uniform(0.2, 0.8)
        img = img * (1 - m) + rng.uniform(0, 1, 3) * m
    if rng.uniform() < 0.5:  # a door/window-like panel with a sharp edge
        x0, x1 = sorted(rng.uniform(0, 1, 2))
        panel = ((xs > x0) & (xs < x1)).astype(np.float32)[..., None] * rng.uniform(0.2, 0.6)
        img = img * (1 - panel) + rng.uniform(0, 1, 3) * panel
    return img.astype(np.float32)
