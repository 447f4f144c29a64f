"""Signal helpers shared by the audio tests (a plain module: conftest files are not importable by name)."""

from __future__ import annotations

import numpy as np

SR = 16000
# Tiny LCNN on half-second crops: enough to run the real training loop in a few seconds.
TINY_AUDIO = [
    "model=lcnn",
    "model.image_size=8000",
    "model.net.channels=[4,4,4,4,4]",
    "model.net.embedding=8",
    "data.batch_size=8",
]


def tone(rng: np.random.Generator, seconds: float, spoof: bool) -> np.ndarray:
    """A harmonic tone with noise (bona fide) or band-limited noise (spoof), float32 in [-1, 1]."""
    t = np.arange(int(seconds * SR)) / SR
    if spoof:
        x = np.convolve(rng.standard_normal(len(t)), np.ones(8) / 8, mode="same")
    else:
        f0 = rng.uniform(100, 200)
        x = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 6)) + 0.05 * rng.standard_normal(len(t))
    return (0.3 * x / np.abs(x).max()).astype(np.float32)
