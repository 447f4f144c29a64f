"""Heatmaps drawn over face crops, and PNG encoding."""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image

# A perceptually ordered blue-cyan-yellow-red ramp (colour stops at 0, 1/3, 2/3 and 1).
_STOPS = np.array([0.0, 1 / 3, 2 / 3, 1.0])
_COLOURS = np.array([[30, 40, 160], [40, 200, 220], [250, 230, 60], [220, 30, 30]], np.float64)


def heat_colours(heat: np.ndarray) -> np.ndarray:
    """Maps heat in [0, 1] (H, W) to RGB uint8 (H, W, 3): blue (0) to red (1)."""
    h = np.clip(np.nan_to_num(heat.astype(np.float64)), 0.0, 1.0)
    rgb = np.stack([np.interp(h, _STOPS, _COLOURS[:, c]) for c in range(3)], axis=-1)
    return (rgb + 0.5).astype(np.uint8)


def overlay(crop: np.ndarray, heat: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """Blends a heatmap over a crop.

    Args:
        crop: RGB uint8 (S, S, 3).
        heat: (h, w) in [0, 1], resized to the crop (bilinear).
        alpha: opacity of the heatmap where the heat is 1; it fades with the heat so cold regions stay visible.

    Returns:
        RGB uint8 (S, S, 3).
    """
    size = (crop.shape[1], crop.shape[0])
    heat = cv2.resize(heat.astype(np.float32), size, interpolation=cv2.INTER_LINEAR)
    weight = (alpha * (0.35 + 0.65 * np.clip(heat, 0, 1)))[..., None]
    blended = crop.astype(np.float32) * (1 - weight) + heat_colours(heat).astype(np.float32) * weight
    return (blended + 0.5).astype(np.uint8)


def png_bytes(image: np.ndarray) -> bytes:
    """An RGB uint8 image (H, W, 3) as PNG bytes."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()
