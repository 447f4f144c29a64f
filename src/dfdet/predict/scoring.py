"""From face crops to model inputs, and from frame scores to a file's score (numpy only: no training stack).

Each function mirrors the training-side one it must agree with (checked by tests/predict): :func:`to_input` the
evaluation transform (``dfdet.transforms.build_eval_transform``), :func:`aggregate` the video aggregation of
evaluation (``dfdet.metrics.functional.aggregate_by_video``), :func:`clip_starts` the clip layout of
``dfdet.data.datasets.ClipDataset``.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

AGGREGATIONS = ("mean", "max", "topk_mean")


def to_input(crops: Sequence[np.ndarray], size: int, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """Face crops to normalised model inputs: resize (area interpolation), scale to [0, 1], ``(x - mean) / std``.

    Args:
        crops: RGB uint8 crops (S, S, 3).
        size: the model's input side.
        mean, std: per-channel normalisation.

    Returns:
        float32 (N, 3, size, size).
    """
    out = np.empty((len(crops), 3, size, size), np.float32)
    m = np.asarray(mean, np.float32) * 255.0
    s = np.asarray(std, np.float32) * 255.0
    for i, crop in enumerate(crops):
        if crop.shape[:2] != (size, size):
            crop = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA)
        out[i] = ((crop.astype(np.float32) - m) / s).transpose(2, 0, 1)
    return out


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logits to probabilities (float64, stable for large magnitudes)."""
    x = np.asarray(x, np.float64)
    return np.exp(-np.logaddexp(0.0, -x))


def aggregate(probs: np.ndarray, method: str = "mean", top_k: int = 5) -> float:
    """One score from frame (or clip, or window) probabilities.

    Args:
        probs: (N,) probabilities, N >= 1.
        method: ``mean``; ``max``; ``topk_mean``: the mean of the ``top_k`` scores farthest from 0.5 (ties by order).
        top_k: scores used by ``topk_mean``.
    """
    probs = np.asarray(probs, np.float64)
    if method == "mean":
        return float(probs.mean())
    if method == "max":
        return float(probs.max())
    if method == "topk_mean":
        order = np.argsort(-np.abs(probs - 0.5), kind="stable")
        return float(probs[order[:top_k]].mean())
    raise ValueError(f"Unknown aggregation '{method}'; choose one of {', '.join(AGGREGATIONS)}")


def clip_starts(n_frames: int, clip_len: int, stride: int) -> list[int]:
    """Starts of the clips of ``clip_len`` consecutive sampled frames, every ``stride`` frames; a video shorter than a
    clip gives one clip padded by repeating its last frame."""
    if n_frames <= clip_len:
        return [0]
    return list(range(0, n_frames - clip_len + 1, stride))


def make_clips(x: np.ndarray, clip_len: int, stride: int) -> tuple[np.ndarray, list[int]]:
    """Frames (N, 3, S, S) to clips (K, T, 3, S, S) and their start positions (see :func:`clip_starts`)."""
    starts = clip_starts(len(x), clip_len, stride)
    index = np.minimum(np.asarray(starts)[:, None] + np.arange(clip_len)[None, :], len(x) - 1)
    return x[index], starts


def clip_scores_per_frame(n_frames: int, starts: Sequence[int], clip_len: int, probs: np.ndarray) -> np.ndarray:
    """Each frame's score as the mean of the clips that contain it (frames in no clip: the nearest clip's)."""
    total, count = np.zeros(n_frames), np.zeros(n_frames)
    for start, p in zip(starts, probs, strict=True):
        total[start : start + clip_len] += p
        count[start : start + clip_len] += 1
    for t in np.flatnonzero(count == 0):  # tail frames after the last full clip
        nearest = int(np.argmin([abs(t - (s + clip_len - 1)) for s in starts]))
        total[t], count[t] = probs[nearest], 1
    return total / count
