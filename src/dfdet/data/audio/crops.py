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


def windows(
    x: np.ndarray, length: int, hop: int | None = None, cover_tail: bool = False
) -> tuple[np.ndarray, list[int]]:
    """A whole waveform as windows of ``length`` samples every ``hop`` (``length`` when None: no overlap), after
    repeat-padding a shorter one: how audio models score a file of any length (training, evaluation and prediction
    alike). With ``cover_tail``, a last window ending at the last sample is added when the regular ones stop short
    of it (prediction: every second of a recording is scored).

    Returns:
        The windows (N, length) float32 and their start samples.

    Example:
        >>> w, starts = windows(np.arange(10, dtype=np.float32), 4)
        >>> w.shape, starts
        ((2, 4), [0, 4])
    """
    n = len(x)
    x = repeat_pad(np.asarray(x, dtype=np.float32), length)
    starts = list(range(0, len(x) - length + 1, hop or length))
    if n < length:  # one window of the repeated recording
        starts = starts[:1]
    elif cover_tail and starts[-1] + length < n:
        starts.append(n - length)
    return np.stack([x[s : s + length] for s in starts]), starts


def centred_window(wave: np.ndarray, centre: float, length: int) -> np.ndarray:
    """The ``length`` samples of ``wave`` centred on sample ``centre``, zero-padded beyond its ends: the sound of a
    clip of frames for audio-visual models (training, evaluation and prediction alike).

    Returns:
        Waveform (length,) float32.
    """
    out = np.zeros(length, np.float32)
    start = int(round(centre - length / 2))
    lo, hi = max(start, 0), min(start + length, len(wave))
    if hi > lo:
        out[lo - start : hi - start] = wave[lo:hi]
    return out
