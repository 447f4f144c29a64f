"""Image distortions of DeeperForensics-1.0 and of the wild (resize, social-media chain), as pure functions.

Every function maps an RGB uint8 image (H, W, 3) and its parameter to a new RGB uint8 image; the random ones take an
:class:`numpy.random.Generator` (never a global RNG), so a distortion is reproducible from its seed.

The seven DeeperForensics-1.0 distortions (Jiang et al., "DeeperForensics-1.0: A Large-Scale Dataset for Real-World
Face Forgery Detection", CVPR 2020, Sec. 3.3 and the release's ``perturbation/distortions.py``) with their five
levels (:data:`DF_LEVELS`, the release's ``get_distortion_parameter``):

====  =========================  =============================================  ==============================
key   distortion                 parameter per level 1..5                       operation
====  =========================  =============================================  ==============================
CS    colour saturation          0.4, 0.3, 0.2, 0.1, 0.0                        chroma (Cb, Cr) scaled by it
CC    colour contrast            0.85, 0.725, 0.6, 0.475, 0.35                  pixel values multiplied by it
BW    block-wise occlusion       16, 32, 48, 64, 80                             grey 8x8 blocks per 256 px side
GNC   Gaussian noise (colour)    0.001, 0.002, 0.005, 0.01, 0.05                variance in YCbCr on [0, 1]
GB    Gaussian blur              7, 9, 13, 17, 21                               kernel side, sigma = side / 6
JPEG  "JPEG compression"         2, 3, 4, 5, 6                                  down-scaled by it and back up
VC    video compression          CRF 30, 32, 35, 38, 40                         H.264 (:mod:`dfdet.perturb.video`)
====  =========================  =============================================  ==============================

Differences from the release, on purpose: the release's "JPEG" is a down- and up-scaling (pixelation), kept here
under the same name for comparability, and a real JPEG re-encoding is the separate :func:`jpeg` (qualities);
saturation scales the chroma around its neutral value (the release's float conversions shift it by a few grey
levels); block-wise occlusion draws at least one 256-px "unit" so face crops smaller than 256 px are occluded too
(the release draws ``min(H, W) // 256 * n`` blocks, none on a 224-px crop); clipping to [0, 255] everywhere (the
release's contrast has no overflow, so clipping changes nothing there).
"""

from __future__ import annotations

import functools

import albumentations as A
import cv2
import numpy as np

DF_LEVELS: dict[str, tuple[float, ...]] = {
    "CS": (0.4, 0.3, 0.2, 0.1, 0.0),
    "CC": (0.85, 0.725, 0.6, 0.475, 0.35),
    "BW": (16, 32, 48, 64, 80),
    "GNC": (0.001, 0.002, 0.005, 0.01, 0.05),
    "GB": (7, 9, 13, 17, 21),
    "JPEG": (2, 3, 4, 5, 6),
    "VC": (30, 32, 35, 38, 40),
}

# ITU-R BT.601 full-range RGB -> YCbCr (JPEG's), chroma centred on 0 (in [0, 1] units).
_RGB2YCC = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]], np.float32)
_YCC2RGB = np.linalg.inv(_RGB2YCC).astype(np.float32)


def color_saturation(image: np.ndarray, factor: float, rng: np.random.Generator | None = None) -> np.ndarray:
    """Chroma (Cb, Cr) multiplied by ``factor`` (0: greyscale, 1: unchanged); DeeperForensics ``CS``.

    Conversion to YCbCr, scaling and conversion back are one 3x3 matrix per pixel (OpenCV's ``transform``, rounded
    to the nearest grey level).
    """
    matrix = _YCC2RGB @ np.diag(np.array([1.0, factor, factor], np.float32)) @ _RGB2YCC
    return cv2.transform(np.ascontiguousarray(image), matrix.astype(np.float32))


def color_contrast(image: np.ndarray, factor: float, rng: np.random.Generator | None = None) -> np.ndarray:
    """Every value multiplied by ``factor`` (darker, lower contrast below 1); DeeperForensics ``CC``."""
    return np.clip(image.astype(np.float32) * np.float32(factor), 0, 255).astype(np.uint8)


def block_wise(image: np.ndarray, blocks: float, rng: np.random.Generator, width: int = 8) -> np.ndarray:
    """``blocks`` grey (128) ``width``² blocks per 256 px of the shorter side, at random places; DeeperForensics
    ``BW`` (at least one 256-px unit, so small crops are occluded too)."""
    h, w = image.shape[:2]
    out = image.copy()
    n = int(blocks) * max(1, min(h, w) // 256)
    if h <= width or w <= width:
        return out
    tops = rng.integers(0, h - width, n)
    lefts = rng.integers(0, w - width, n)
    for top, left in zip(tops, lefts, strict=True):
        out[top : top + width, left : left + width] = 128
    return out


def standard_normal(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Independent standard normal float32 values of ``shape``, by the Box-Muller transform of the generator's
    float32 uniforms (Box and Muller, "A Note on the Generation of Random Normal Deviates", 1958).

    Three times faster than :meth:`numpy.random.Generator.standard_normal` on the development machine (0.56 against
    1.55 ms for a 256-px RGB image; NumPy's ziggurat spends most of its time there). The 24-bit uniforms cut the
    tails at 5.8 standard deviations (a probability below 1e-8 per value).
    """
    n = int(np.prod(shape))
    half = (n + 1) // 2
    u = rng.random((2, half), dtype=np.float32)
    radius = np.sqrt(np.float32(-2.0) * np.log1p(-u[0]))  # 1 - u in (0, 1]: finite
    angle = u[1] * np.float32(2.0 * np.pi)
    out = np.empty(2 * half, np.float32)
    np.multiply(radius, np.cos(angle), out=out[:half])
    np.multiply(radius, np.sin(angle), out=out[half:])
    return out[:n].reshape(shape)


def gaussian_noise_color(image: np.ndarray, variance: float, rng: np.random.Generator) -> np.ndarray:
    """White Gaussian noise of ``variance`` added to Y, Cb and Cr on the [0, 1] scale; DeeperForensics ``GNC``.

    The noise is drawn in YCbCr (:func:`standard_normal`) and added in RGB through the inverse conversion: the
    conversion is linear, so this is the image converted to YCbCr, noised and converted back, without converting
    the image twice.
    """
    noise = standard_normal(rng, image.shape[:2] + (3,))
    noise *= np.float32(np.sqrt(variance) * 255.0)
    out: np.ndarray = cv2.transform(noise, _YCC2RGB) + image
    out += 0.5
    return np.clip(out, 0, 255, out=out).astype(np.uint8)


def gaussian_blur(image: np.ndarray, kernel: float, rng: np.random.Generator | None = None) -> np.ndarray:
    """Gaussian blur with a ``kernel``² window and sigma ``kernel / 6``; DeeperForensics ``GB``."""
    k = int(kernel) | 1
    return _albu(A.GaussianBlur, blur_limit=(k, k), sigma_limit=(k / 6.0, k / 6.0))(image=image)["image"]


def pixelation(image: np.ndarray, factor: float, rng: np.random.Generator | None = None) -> np.ndarray:
    """Down-scaled by ``factor`` and back to its size (bilinear both ways); DeeperForensics ``JPEG``."""
    h, w = image.shape[:2]
    small = cv2.resize(image, (max(1, w // int(factor)), max(1, h // int(factor))), interpolation=cv2.INTER_LINEAR)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def jpeg(image: np.ndarray, quality: float, rng: np.random.Generator | None = None) -> np.ndarray:
    """A real JPEG re-encoding at ``quality`` (1-100; albumentations' ``ImageCompression``, OpenCV's libjpeg)."""
    q = int(quality)
    return _albu(A.ImageCompression, quality_range=(q, q), compression_type="jpeg")(image=image)["image"]


def jpeg_bytes(image: np.ndarray, quality: int) -> bytes:
    """The JPEG file of ``image`` at ``quality`` (what :func:`jpeg` decodes back), e.g. to measure its size."""
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return data.tobytes()


def resize(image: np.ndarray, scale: float, rng: np.random.Generator | None = None) -> np.ndarray:
    """Resized by ``scale`` and kept at the new size (area when shrinking, bicubic when upscaling, as photo
    editors and platforms do); the model's own input pipeline then sees the resized pixels."""
    h, w = image.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)


def social_media(image: np.ndarray, strength: float, rng: np.random.Generator | None = None) -> np.ndarray:
    """A social-media upload chain: the longer side capped (1080 px at strength 1, halved per step), JPEG at
    quality ``85 - 10 * (strength - 1)``, then an unsharp mask (albumentations ``Sharpen``, alpha 0.2)."""
    s = max(1, int(strength))
    cap = max(64, 1080 >> (s - 1))
    h, w = image.shape[:2]
    if max(h, w) > cap:
        image = resize(image, cap / max(h, w))
    image = jpeg(image, max(5, 85 - 10 * (s - 1)))
    return _albu(A.Sharpen, alpha=(0.2, 0.2), lightness=(1.0, 1.0))(image=image)["image"]


@functools.lru_cache(maxsize=64)
def _albu_cached(cls: type, items: tuple) -> A.BasicTransform:
    return cls(p=1.0, **dict(items))


def _albu(cls: type, **kwargs: object) -> A.BasicTransform:
    """A deterministic albumentations op (its parameter ranges are single values), built once per parameters."""
    return _albu_cached(cls, tuple(sorted(kwargs.items())))
