"""Fixed-length waveform windows with repeat padding, as the ASVspoof baselines crop (numpy only: the ONNX predictor
uses them too)."""

from __future__ import annotations

import numpy as np


def repeat_pad(x: np.ndarray, length: int) -> np.ndarray:
    """Tiles a short waveform until it has at least ``length`` samples (the ASVspoof baselines' padding)."""
    if len(x) >= length:
        return x
    return np.tile(x, -(-length // len(x)))


def fixed_crop(x: np.ndarray, length: int, rng: np.random.Generator | None = None) -> np.ndarray:
    """A ``length``-sample window of ``x``, repeat-padded first when shorter.

    Args:
        x: waveform (T,).
        length: samples to return.
        rng: a random start (training); None takes the first ``length`` samples (deterministic evaluation, as the
            ASVspoof baselines).

    Returns:
        Waveform (length,).
    """
    x = repeat_pad(x, length)
    start = 0 if rng is None else int(rng.integers(0, len(x) - length + 1))
    return x[start : start + length]
