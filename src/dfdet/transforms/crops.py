"""Whole-image crops for evaluation and prediction, numpy and OpenCV only (the ONNX predictor uses them too).

A whole-image model's input contract says how an image becomes its inputs (:class:`~dfdet.contract.InputContract`
``size``, ``crop``, ``crops``, ``resize``): optionally resize the shorter side, pad by reflection to at least
``size``, then take a centre crop or a grid of crops, or keep the whole image (``whole``: centre-cropped to a
multiple of :data:`WHOLE_MULTIPLE` on each side, at most :data:`WHOLE_MAX_SIDE`, one input of its own size).
Evaluation and prediction call the same :func:`image_inputs`, so both see exactly the same pixels; training takes
random crops of the same geometry (:func:`dfdet.transforms.images.build_image_train_transform`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

WHOLE_MULTIPLE = 32  # crop=whole: sides are trimmed to a multiple of this (CNN strides; NPR halves and doubles)
WHOLE_MAX_SIDE = 2048  # crop=whole: larger sides are centre-cropped (memory); set model.input.resize to scale instead


def whole_side(side: int) -> int:
    """The side a ``whole`` input keeps of an image side (already padded to at least ``size``)."""
    return max(WHOLE_MULTIPLE, min(WHOLE_MAX_SIDE, side - side % WHOLE_MULTIPLE))


def resize_shorter(image: np.ndarray, side: int) -> np.ndarray:
    """``image`` (H, W, 3) with its shorter side resized to ``side`` (area interpolation when shrinking)."""
    h, w = image.shape[:2]
    scale = side / min(h, w)
    if scale == 1:
        return image
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


def pad_to(image: np.ndarray, size: int) -> np.ndarray:
    """``image`` padded by reflection (OpenCV's ``BORDER_REFLECT_101``), centred, to at least ``size`` on each side;
    larger images are returned unchanged (never upscaled)."""
    h, w = image.shape[:2]
    dh, dw = max(0, size - h), max(0, size - w)
    if not dh and not dw:
        return image
    if min(h, w) < 2:  # reflection needs two pixels
        return cv2.copyMakeBorder(image, dh // 2, dh - dh // 2, dw // 2, dw - dw // 2, cv2.BORDER_REPLICATE)
    return cv2.copyMakeBorder(image, dh // 2, dh - dh // 2, dw // 2, dw - dw // 2, cv2.BORDER_REFLECT_101)


def crop_origins(height: int, width: int, size: int, crop: str = "center", crops: int = 1) -> list[tuple[int, int]]:
    """Top-left corners of the ``size`` x ``size`` crops of a (height, width) image (at least ``size`` each way).

    ``center``: the centre crop. ``grid``: ``crops`` crops picked evenly from a g x g grid (g = ceil(sqrt(crops)))
    spanning the image, row by row; 5 crops are the four corners and the centre.

    Example:
        >>> crop_origins(100, 100, 50, "grid", 5)
        [(0, 0), (0, 50), (25, 25), (50, 0), (50, 50)]
    """
    if crop == "center" or crops == 1:
        return [((height - size) // 2, (width - size) // 2)]
    g = math.ceil(math.sqrt(crops))
    rows = np.linspace(0, height - size, g).round().astype(int)
    cols = np.linspace(0, width - size, g).round().astype(int)
    grid = [(int(r), int(c)) for r in rows for c in cols]
    return [grid[i] for i in np.linspace(0, len(grid) - 1, crops).round().astype(int)]


def image_inputs(
    image: np.ndarray,
    size: int,
    mean: Sequence[float],
    std: Sequence[float],
    crop: str = "center",
    crops: int = 1,
    resize: int | None = None,
) -> np.ndarray:
    """A whole image (H, W, 3) uint8 RGB as its model inputs (N, 3, size, size) float32, normalised; with
    ``crop="whole"`` one input (1, 3, H', W') of the image itself (see :func:`whole_side`).

    Args:
        image: the decoded image.
        size: crop side (the contract's ``size``).
        mean, std: per-channel normalisation of values scaled to [0, 1].
        crop: ``center``, ``grid`` or ``whole``.
        crops: crops of a ``grid``.
        resize: the shorter side is resized to this first; None keeps the native resolution.
    """
    if resize is not None:
        image = resize_shorter(image, resize)
    image = pad_to(image, size)
    m = np.asarray(mean, np.float32) * 255.0
    s = np.asarray(std, np.float32) * 255.0
    if crop == "whole":
        height, width = whole_side(image.shape[0]), whole_side(image.shape[1])
        top, left = (image.shape[0] - height) // 2, (image.shape[1] - width) // 2
        patch = image[top : top + height, left : left + width].astype(np.float32)
        return np.ascontiguousarray(((patch - m) / s).transpose(2, 0, 1)[None])
    origins = crop_origins(image.shape[0], image.shape[1], size, crop, crops)
    out = np.empty((len(origins), 3, size, size), np.float32)
    for i, (top, left) in enumerate(origins):
        patch = image[top : top + size, left : left + size].astype(np.float32)
        out[i] = ((patch - m) / s).transpose(2, 0, 1)
    return out
