"""Occlusion sensitivity (Zeiler and Fergus 2014): model-agnostic, needs only forward passes (ONNX models).

A square patch set to the normalisation mean (0 after normalisation) slides over the input; the heat of a pixel is
the mean drop of the fake probability over the patch positions covering it. Positive heat marks regions whose
content raises the fake score, like Grad-CAM's.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

LogitFn = Callable[[np.ndarray], np.ndarray]  # model inputs (B, ...) -> logits (B,)


def _positions(side: int, patch: int, stride: int) -> list[int]:
    """Patch starts along one axis, the last one flush with the border."""
    starts = list(range(0, max(side - patch, 0) + 1, stride))
    if starts[-1] != max(side - patch, 0):
        starts.append(max(side - patch, 0))
    return starts


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x.astype(np.float64)))


def occlusion_map(
    logits: LogitFn, x: np.ndarray, patch: int | None = None, stride: int | None = None, batch_size: int = 64
) -> np.ndarray:
    """Occlusion heatmaps of the fake probability.

    Args:
        logits: the model, mapping inputs (B, ...) to fake logits (B,).
        x: normalised inputs (N, 3, H, W), or clips (N, T, 3, H, W) (the patch covers the same place in every frame).
        patch: side of the square patch in pixels; None: a quarter of the input side.
        stride: step between patch positions; None: half the patch.
        batch_size: occluded inputs per model call.

    Returns:
        (N, H, W) float32 heatmaps in [0, 1], each scaled by its largest probability drop (all zero when no patch
        lowers the score).
    """
    height, width = x.shape[-2:]
    patch = patch or max(1, min(height, width) // 4)
    stride = stride or max(1, patch // 2)
    boxes = [(y, x0) for y in _positions(height, patch, stride) for x0 in _positions(width, patch, stride)]
    base = _sigmoid(logits(x))
    heat = np.zeros((len(x), height, width), np.float64)
    count = np.zeros((height, width), np.float64)
    for y, x0 in boxes:
        count[y : y + patch, x0 : x0 + patch] += 1
    jobs = [(i, k) for i in range(len(x)) for k in range(len(boxes))]
    for start in range(0, len(jobs), batch_size):
        chunk = jobs[start : start + batch_size]
        batch = np.stack([x[i] for i, _ in chunk]).astype(np.float32)
        for row, (_, k) in enumerate(chunk):
            y, x0 = boxes[k]
            batch[row, ..., y : y + patch, x0 : x0 + patch] = 0.0
        drops = base[[i for i, _ in chunk]] - _sigmoid(logits(batch))
        for (i, k), drop in zip(chunk, drops, strict=True):
            y, x0 = boxes[k]
            heat[i, y : y + patch, x0 : x0 + patch] += drop
    heat = np.clip(heat / np.maximum(count, 1), 0, None)
    peak = heat.reshape(len(x), -1).max(axis=1)
    return (heat / np.where(peak > 0, peak, 1.0)[:, None, None]).astype(np.float32)
