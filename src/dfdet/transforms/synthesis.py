"""On-the-fly fake synthesis from real faces: self-blended images and blended pairs.

- :func:`self_blend` follows Shiohara & Yamasaki, "Detecting Deepfakes with Self-Blended Images" (CVPR 2022): a
  pristine face is blended with a slightly altered copy of itself (colour, frequency and geometry), inside a deformed,
  blurred face mask, at a random blend ratio.
- :func:`blend_pair` follows Li et al., "Face X-ray for More General Face Forgery Detection" (CVPR 2020): the face of
  one real image is aligned onto another by a similarity transform of the landmarks, colour-corrected and blended in
  a deformed, blurred hull mask; the blending boundary ``B = 4 M (1 - M)`` is the Face X-ray target.

Both are pure functions of ``(image, landmarks, rng)`` with ``rng`` an ``np.random.Generator``: the same seed gives
the same bytes and no global RNG (numpy, ``random``, OpenCV) is read or changed. Work is confined to the face's
bounding region, with OpenCV on uint8/float32, so one core synthesises several hundred 224² crops per second (see
``docs/synthesis.md``). Landmarks are 5 or 68 points; see :mod:`dfdet.transforms.masks`.
"""

from __future__ import annotations

from typing import NamedTuple

import cv2
import numpy as np

from dfdet.transforms.masks import (
    as_points,
    blur_margin,
    deform_polygon,
    densify_polygon,
    face_hull_points,
    five_from_68,
    random_soft_mask,
)

SBI_BLEND_RATIOS = (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)


class Blend(NamedTuple):
    """A synthesised fake.

    Attributes:
        fake: (H, W, 3) uint8 blended image; equal to the target wherever ``mask`` is 0.
        mask: (H, W) float32 in [0, 1], the weight of the source in each pixel (blend ratio included):
            ``fake = source * mask + target * (1 - mask)``.
        boundary: (H, W) float32 in [0, 1], the blending boundary ``4 * mask * (1 - mask)`` when asked for, else None.
        ops: names of the random operations applied, in order (e.g. ``"rgb_shift"``, ``"downscale_x4"``).
    """

    fake: np.ndarray
    mask: np.ndarray
    boundary: np.ndarray | None
    ops: tuple[str, ...]


def _check_image(image: np.ndarray, name: str) -> None:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"{name} must be an (H, W, 3) uint8 RGB array, got {image.dtype} array of shape {image.shape}")


_GREY_AXIS = np.full(3, 1 / np.sqrt(3))
_LUMA = np.array([0.299, 0.587, 0.114])


def _hue_rotation(degrees: float) -> np.ndarray:
    """(3, 3) rotation of RGB about the grey axis: a hue shift that keeps grey levels."""
    theta = np.deg2rad(degrees)
    cross = np.array([[0, -1, 1], [1, 0, -1], [-1, 1, 0]]) / np.sqrt(3)  # [u]x for u = (1, 1, 1) / sqrt(3)
    outer = np.outer(_GREY_AXIS, _GREY_AXIS)
    return np.cos(theta) * np.eye(3) + (1 - np.cos(theta)) * outer + np.sin(theta) * cross


def colour_matrix(rng: np.random.Generator, ops: list[str]) -> np.ndarray:
    """SBI's colour part of the source-target generator as one random affine colour map.

    RGB shift of up to 20 levels per channel (p=0.3), then hue-saturation-value (hue rotated by up to 10 degrees,
    saturation and value scaled by up to 20 % and 6 %), then brightness and contrast (up to 10 % each), composed into
    a (3, 4) matrix so that the image is traversed once. Hue and saturation act linearly (rotation about the grey
    axis, blend with the luma) instead of through an HSV round trip, which is several times slower.

    Args:
        rng: random generator.
        ops: list that the names of the drawn operations are appended to.

    Returns:
        (3, 4) float32 matrix for ``cv2.transform``: ``rgb' = M[:, :3] @ rgb + M[:, 3]``.
    """
    shift = np.zeros(3)
    if rng.random() < 0.3:
        shift = rng.integers(-20, 21, size=3).astype(np.float64)
        ops.append("rgb_shift")
    saturation, value = 1 + rng.uniform(-0.2, 0.2), 1 + rng.uniform(-0.06, 0.06)
    linear = value * (saturation * np.eye(3) + (1 - saturation) * np.outer(np.ones(3), _LUMA))
    linear = linear @ _hue_rotation(rng.uniform(-10, 10))
    contrast, brightness = 1 + rng.uniform(-0.1, 0.1), rng.uniform(-0.1, 0.1) * 255
    linear = contrast * linear
    ops += ["hsv", "brightness_contrast"]
    return np.hstack([linear, (linear @ shift + brightness)[:, None]]).astype(np.float32)


def colour_jitter(image: np.ndarray, rng: np.random.Generator, ops: list[str]) -> np.ndarray:
    """Applies a random :func:`colour_matrix` to an image.

    Args:
        image: (h, w, 3) uint8 RGB.
        rng: random generator.
        ops: list that the names of the applied operations are appended to.

    Returns:
        (h, w, 3) uint8 jittered image (rounded and saturated).
    """
    return cv2.transform(image, colour_matrix(rng, ops))


def frequency_jitter(image: np.ndarray, rng: np.random.Generator, ops: list[str]) -> np.ndarray:
    """SBI's frequency part: one of downscale-upscale (x2 or x4, nearest then bilinear) or sharpening.

    Args:
        image: (h, w, 3) uint8 RGB.
        rng: random generator.
        ops: list that the name of the applied operation is appended to.

    Returns:
        (h, w, 3) uint8 image.
    """
    height, width = image.shape[:2]
    if rng.random() < 0.5:
        ratio = int(rng.choice((2, 4)))
        small = cv2.resize(image, (max(width // ratio, 1), max(height // ratio, 1)), interpolation=cv2.INTER_NEAREST)
        ops.append(f"downscale_x{ratio}")
        return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    alpha, lightness = rng.uniform(0.2, 0.5), rng.uniform(0.5, 1.0)
    kernel = np.full((3, 3), -alpha, np.float32)
    kernel[1, 1] = (1 - alpha) + alpha * (8 + lightness)  # albumentations' Sharpen kernel
    ops.append("sharpen")
    return cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_REFLECT_101)


def _face_polygon(
    landmarks: np.ndarray,
    shape: tuple[int, ...],
    rng: np.random.Generator,
    forehead_p: float,
    deform: float,
    grid: int,
    ops: list[str],
) -> np.ndarray:
    """Random-forehead hull, densified and deformed by a smooth field of up to ``deform`` x the face size."""
    forehead = rng.uniform(0.15, 0.35) if rng.random() < forehead_p else 0.0
    if forehead:
        ops.append("forehead")
    polygon = face_hull_points(landmarks, shape, forehead, clip=False)
    face_size = float((polygon.max(0) - polygon.min(0)).max())
    polygon = densify_polygon(polygon, max(face_size / 24, 2.0))
    return deform_polygon(polygon, rng, rng.uniform(0, deform) * face_size, grid)


def _region(polygon: np.ndarray, shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """Bounding box (x0, y0, x1, y1) of the polygon plus the mask-blur margin, clipped to the image."""
    pad = blur_margin(shape)
    x0, y0 = np.floor(polygon.min(0)).astype(int) - pad
    x1, y1 = np.ceil(polygon.max(0)).astype(int) + pad
    height, width = shape[:2]
    return max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)


def _warp_into(image: np.ndarray, affine: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """``image`` warped by the 2x3 ``affine`` and cropped to ``box``, computing only the box's pixels."""
    x0, y0, x1, y1 = box
    shifted = affine.astype(np.float64) - np.array([[0, 0, x0], [0, 0, y0]], np.float64)
    return cv2.warpAffine(image, shifted, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)


def _crop(image: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    """``image[y0:y1, x0:x1]`` where the box may leave the image: outside pixels are mirrored (reflect-101)."""
    height, width = image.shape[:2]
    cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
    pads = (cy0 - y0, y1 - cy1, cx0 - x0, x1 - cx1)
    if not any(pads):
        return image[y0:y1, x0:x1]
    if cx1 <= cx0 or cy1 <= cy0 or max(pads[:2]) >= height or max(pads[2:]) >= width:
        shift = np.array([[1, 0, -x0], [0, 1, -y0]], np.float64)
        return cv2.warpAffine(image, shift, (x1 - x0, y1 - y0), borderMode=cv2.BORDER_REFLECT_101)
    return cv2.copyMakeBorder(image[cy0:cy1, cx0:cx1], *pads, cv2.BORDER_REFLECT_101)


def _rescaled_source(
    image: np.ndarray, scale: float, offset: np.ndarray, box: tuple[int, int, int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """The image moved by ``p -> scale * p + offset`` and cropped to ``box``, by a crop and a resize.

    The source window is rounded to whole pixels (cheaper than ``cv2.warpAffine``, which is 3x slower here), so the
    realised map differs from the asked one by under a pixel; it is returned for moving the mask along.

    Returns:
        (y1 - y0, x1 - x0, 3) uint8 source region and the (2, 3) float32 realised map (image to image coordinates).
    """
    lo, hi = np.array(box[:2], np.float64), np.array(box[2:], np.float64)
    start = np.round((lo - offset) / scale).astype(int)
    stop = start + np.maximum(np.round((hi - lo) / scale).astype(int), 1)
    region = _crop(image, int(start[0]), int(start[1]), int(stop[0]), int(stop[1]))
    size = (box[2] - box[0], box[3] - box[1])
    if region.shape[1::-1] != size:
        region = cv2.resize(region, size, interpolation=cv2.INTER_LINEAR)
    real_scale = (hi - lo) / (stop - start)  # cv2.resize maps pixel centres: x + 0.5 = (u - start + 0.5) * scale
    real_offset = lo - 0.5 + real_scale * (0.5 - start)
    return region, np.array([[real_scale[0], 0, real_offset[0]], [0, real_scale[1], real_offset[1]]], np.float32)


def _compose(
    target: np.ndarray, source_box: np.ndarray, mask_box: np.ndarray, box: tuple[int, int, int, int], boundary: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Blends ``source_box`` into ``target`` at ``box`` with weights ``mask_box``; full-size fake, mask, boundary."""
    x0, y0, x1, y1 = box
    fake = target.copy()
    region = target[y0:y1, x0:x1].astype(np.float32)
    delta = cv2.subtract(source_box.astype(np.float32), region)
    fake[y0:y1, x0:x1] = cv2.add(cv2.multiply(delta, cv2.merge([mask_box] * 3)), region, dtype=cv2.CV_8U)
    mask = np.zeros(target.shape[:2], np.float32)
    mask[y0:y1, x0:x1] = mask_box
    if not boundary:
        return fake, mask, None
    xray = np.zeros_like(mask)
    xray[y0:y1, x0:x1] = 4.0 * mask_box * (1.0 - mask_box)
    return fake, mask, xray


def self_blend(
    image: np.ndarray,
    landmarks: np.ndarray,
    rng: np.random.Generator,
    *,
    blend_ratios: tuple[float, ...] = SBI_BLEND_RATIOS,
    forehead_p: float = 0.75,
    return_boundary: bool = False,
) -> Blend:
    """Self-blended image (SBI): a real face blended with an altered copy of itself.

    Steps, as in the paper and its code: (1) source-target generator: the source is a copy of the image warped by a
    small random scale (0.95-1.05) and translation (3 % of the width, 1.5 % of the height) and altered by
    :func:`colour_jitter` and :func:`frequency_jitter`; (2) mask generator: the face hull of the landmarks
    (:func:`~dfdet.transforms.masks.face_hull_points`, with a forehead with probability ``forehead_p`` as SBI's
    81-point landmarks give), moved by the same affine as the source, deformed by a smooth random field, eroded and
    Gaussian-blurred with random kernels (:func:`~dfdet.transforms.masks.random_soft_mask`); (3) blending:
    ``fake = source * M * r + image * (1 - M * r)`` with ``r`` drawn from ``blend_ratios``.

    Unlike SBI's code, which applies the generator to the source or the target at random, only the source is altered,
    so the fake equals the input wherever the mask is 0 and the input stays the matching real sample (both
    directions of the frequency mismatch remain: downscaling blurs and sharpening sharpens the inside).

    Args:
        image: (H, W, 3) uint8 RGB face crop.
        landmarks: (K, 2) or flat (2K,) x, y pixel coordinates in the crop, K = 5 or 68.
        rng: random generator, the only source of randomness.
        blend_ratios: candidates for the blend ratio ``r``, drawn uniformly (repeats weight a value).
        forehead_p: probability of extending the mask over the forehead.
        return_boundary: also return the blending boundary ``4 M (1 - M)``.

    Returns:
        :class:`Blend` with ``fake`` (H, W, 3) uint8, ``mask`` (H, W) float32 (``M * r``), ``boundary`` and ``ops``.

    Raises:
        ValueError: on a malformed image or landmarks, or a face outside the image.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> image = np.full((128, 128, 3), 128, np.uint8)
        >>> eyes_nose_mouth = [[48, 56], [80, 56], [64, 72], [52, 90], [76, 90]]
        >>> out = self_blend(image, np.array(eyes_nose_mouth, np.float32), rng)
        >>> out.fake.shape, out.mask.dtype, float(out.mask.max())  # the mask peaks at the blend ratio drawn
        ((128, 128, 3), dtype('float32'), 0.25)
        >>> outside = out.mask == 0
        >>> bool(outside.any()), bool((out.fake[outside] == image[outside]).all())  # unchanged outside the mask
        (True, True)
    """
    _check_image(image, "image")
    points = as_points(landmarks)
    height, width = image.shape[:2]
    ops: list[str] = ["affine"]
    scale = rng.uniform(0.95, 1 / 0.95)
    offset = np.array([width / 2, height / 2]) * (1 - scale)
    offset += rng.uniform(-0.03, 0.03) * width, rng.uniform(-0.015, 0.015) * height
    polygon = _face_polygon(points, image.shape, rng, forehead_p, deform=0.02, grid=6, ops=ops)
    box = _region(polygon * np.float32(scale) + offset.astype(np.float32), image.shape)
    x0, y0, x1, y1 = box
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"The face region of the landmarks lies outside the {width}x{height} image")
    source, moved = _rescaled_source(image, scale, offset, box)
    source = frequency_jitter(colour_jitter(source, rng, ops), rng, ops)
    polygon = polygon * np.diag(moved[:, :2]) + moved[:, 2] - np.array([x0, y0], np.float32)
    mask_box = random_soft_mask(polygon, (y1 - y0, x1 - x0), image.shape, rng)
    ratio = float(blend_ratios[int(rng.integers(len(blend_ratios)))])
    if ratio != 1.0:
        mask_box *= np.float32(ratio)
    ops.append(f"ratio_{ratio:g}")
    return Blend(*_compose(image, source, mask_box, box, return_boundary), tuple(ops))


_YCBCR = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])  # BT.601
_YCBCR_32 = _YCBCR.astype(np.float32)


def colour_transfer(source: np.ndarray, target: np.ndarray, region: np.ndarray) -> np.ndarray:
    """Mean/std colour transfer (Reinhard et al. 2001) in YCbCr, restricted to statistics inside ``region``.

    Each luma/chroma channel of the source is scaled and shifted so that its mean and standard deviation inside
    ``region`` equal the target's. YCbCr is linear in RGB, so the correction is one affine colour map of the source
    (Reinhard's Lab-like space would need two slow colour-space round trips per blend).

    Args:
        source, target: (h, w, 3) uint8 RGB images of the same size.
        region: (h, w) array, nonzero where the statistics are taken (at least one pixel).

    Returns:
        (h, w, 3) uint8 colour-corrected source (rounded and saturated).
    """
    mask = (region != 0).astype(np.uint8)
    src_mean, src_std = cv2.meanStdDev(cv2.transform(source.astype(np.float32), _YCBCR_32), mask=mask)
    dst_mean, dst_std = cv2.meanStdDev(cv2.transform(target.astype(np.float32), _YCBCR_32), mask=mask)
    gain = dst_std.ravel() / np.maximum(src_std.ravel(), 1.0)
    offset = dst_mean.ravel() - src_mean.ravel() * gain
    back = np.linalg.inv(_YCBCR)
    matrix = np.hstack([back @ np.diag(gain) @ _YCBCR, (back @ offset)[:, None]])
    return cv2.transform(source, matrix.astype(np.float32))


def blend_pair(
    target: np.ndarray,
    target_landmarks: np.ndarray,
    source: np.ndarray,
    source_landmarks: np.ndarray,
    rng: np.random.Generator,
    *,
    forehead_p: float = 0.5,
    return_boundary: bool = False,
) -> Blend:
    """Blended pair (Face X-ray): the source's face aligned, colour-corrected and blended onto the target.

    The source is aligned to the target by the similarity transform of the landmarks
    (``cv2.estimateAffinePartial2D``, least-median robust), the mask is the target's face hull (forehead with
    probability ``forehead_p``) deformed by a smooth random field (like the paper's random grid deformation), eroded
    and Gaussian-blurred with random kernels; inside it the source gets the target's colour statistics
    (:func:`colour_transfer`). Choosing a source with similar landmarks (the paper's nearest neighbours) is the
    caller's job.

    Args:
        target: (H, W, 3) uint8 RGB face crop that keeps its background.
        target_landmarks: (K, 2) or flat (2K,) points in ``target``, K = 5 or 68.
        source: (H', W', 3) uint8 RGB face crop that gives the face.
        source_landmarks: (K', 2) or flat points in ``source``, K' = 5 or 68 (if K != K', 5 points are used for the
            alignment).
        rng: random generator, the only source of randomness.
        forehead_p: probability of extending the mask over the forehead.
        return_boundary: also return the Face X-ray ``4 M (1 - M)``.

    Returns:
        :class:`Blend`; ``mask`` is M (H, W) float32, ``boundary`` the (H, W) float32 X-ray when asked for.

    Raises:
        ValueError: on malformed inputs, a face outside the target, or landmarks that admit no alignment.
    """
    _check_image(target, "target")
    _check_image(source, "source")
    dst, src = as_points(target_landmarks), as_points(source_landmarks)
    if len(dst) != len(src):
        dst, src = (five_from_68(p) if len(p) == 68 else p for p in (dst, src))
    affine, _ = cv2.estimateAffinePartial2D(src, dst, method=cv2.LMEDS)
    if affine is None:
        raise ValueError("No similarity transform aligns the source landmarks to the target landmarks")
    ops = ["align"]
    polygon = _face_polygon(as_points(target_landmarks), target.shape, rng, forehead_p, deform=0.04, grid=4, ops=ops)
    box = _region(polygon, target.shape)
    x0, y0, x1, y1 = box
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"The face region lies outside the {target.shape[1]}x{target.shape[0]} target")
    mask_box = random_soft_mask(polygon - np.array([x0, y0], np.float32), (y1 - y0, x1 - x0), target.shape, rng)
    face = _warp_into(source, affine, box)
    inside = (mask_box > 0.5).astype(np.uint8)
    if inside.any():
        face = colour_transfer(face, target[y0:y1, x0:x1], inside)
        ops.append("colour_transfer")
    return Blend(*_compose(target, face, mask_box, box, return_boundary), tuple(ops))
