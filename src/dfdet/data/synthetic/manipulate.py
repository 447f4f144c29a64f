"""Face manipulations that turn rendered real frames into fakes, modelled on FaceForensics++ methods.

- ``faceswap``: another identity's inner face, rendered with the target's pose, light and expression, is resampled,
  only partly colour-corrected and blended in with a deformed soft mask (FaceSwap / Deepfakes style).
- ``reenact``: the target's own lower face with another expression is re-synthesised at low resolution with
  upsampling artefacts and blended in around the mouth (Face2Face / NeuralTextures style).

All functions are pure: images are float32 (H, W, 3) in [0, 1], randomness comes from the generator argument.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageFilter

from dfdet.data.synthetic.render import FrameParams, Identity, face_coords

METHODS = ("faceswap", "reenact")


def resample(img: np.ndarray, factor: float, upsample: str = "bicubic") -> np.ndarray:
    """Downscales by ``factor`` (bilinear) and scales back up, as a generator working at low resolution would."""
    size = img.shape[0]
    small = max(4, round(size * factor))
    pil = Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8))
    mode = {"bicubic": Image.Resampling.BICUBIC, "nearest": Image.Resampling.NEAREST}[upsample]
    out = pil.resize((small, small), Image.Resampling.BILINEAR).resize((size, size), mode)
    return np.asarray(out, dtype=np.float32) / 255.0


def blur_mask(mask: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian-blurs a (H, W) mask in [0, 1]."""
    pil = Image.fromarray((mask * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(sigma))
    return np.asarray(pil, dtype=np.float32) / 255.0


def region_mask(
    ident: Identity, fp: FrameParams, size: int, centre_v: float, rx: float, ry: float, rng: np.random.Generator
) -> np.ndarray:
    """A soft, randomly deformed elliptical mask in face-local coordinates, shape (size, size) in [0, 1]."""
    u, v, px = face_coords(size, fp)
    angle = np.arctan2(v - centre_v * ident.face_ay, u)
    wobble = 1 + sum(rng.uniform(-0.08, 0.08) * np.cos(k * angle + rng.uniform(0, 6.3)) for k in (2, 3, 5))
    d = np.sqrt((u / (rx * ident.face_ax)) ** 2 + ((v - centre_v * ident.face_ay) / (ry * ident.face_ay)) ** 2)
    hard = (d < wobble).astype(np.float32)
    return blur_mask(hard, sigma=rng.uniform(0.8, 2.5) * size / 96)


def colour_transfer(src: np.ndarray, dst: np.ndarray, mask: np.ndarray, strength: float) -> np.ndarray:
    """Moves ``src``'s mean colour inside ``mask`` towards ``dst``'s by ``strength`` in [0, 1] (1 = full match)."""
    w = mask[..., None]
    total = max(float(w.sum()), 1e-6)
    mu_src = (src * w).sum((0, 1)) / total
    mu_dst = (dst * w).sum((0, 1)) / total
    return np.clip(src + strength * (mu_dst - mu_src), 0, 1)


def faceswap(
    target: np.ndarray, donor: np.ndarray, ident: Identity, fp: FrameParams, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Blends the inner face of ``donor`` (same pose as ``target``) into ``target``.

    Returns:
        The fake frame (H, W, 3) and the blending mask (H, W).
    """
    size = target.shape[0]
    mask = region_mask(ident, fp, size, centre_v=0.12, rx=rng.uniform(0.72, 0.85), ry=rng.uniform(0.68, 0.8), rng=rng)
    swapped = resample(donor, rng.uniform(0.35, 0.6))
    swapped = colour_transfer(swapped, target, mask, strength=rng.uniform(0.0, 0.6))
    w = mask[..., None]
    return (target * (1 - w) + swapped * w).astype(np.float32), mask


def reenact(
    target: np.ndarray, source: np.ndarray, ident: Identity, fp: FrameParams, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Replaces the mouth region of ``target`` with a low-resolution re-synthesis from ``source``.

    ``source`` is the same identity and pose with another expression. Returns the fake frame and the mask.
    """
    size = target.shape[0]
    mask = region_mask(ident, fp, size, centre_v=0.42, rx=rng.uniform(0.55, 0.7), ry=rng.uniform(0.38, 0.5), rng=rng)
    synth = resample(source, rng.uniform(0.25, 0.45), upsample="nearest")
    synth = (
        np.asarray(
            Image.fromarray((synth * 255).astype(np.uint8)).filter(ImageFilter.GaussianBlur(0.6)), dtype=np.float32
        )
        / 255.0
    )
    synth = np.clip(synth * rng.uniform(0.94, 1.06, 3), 0, 1)
    w = mask[..., None]
    return (target * (1 - w) + synth * w).astype(np.float32), mask
