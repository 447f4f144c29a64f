"""Waveform augmentation for training audio detectors (random gain, additive noise)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass
class AudioAugment:
    """Training-time waveform augmentation: random gain and, with probability ``noise_prob``, white noise.

    Args:
        gain_db: range of the random gain in dB.
        noise_snr_db: range of the noise's signal-to-noise ratio in dB.
        noise_prob: probability of adding noise.
    """

    gain_db: Sequence[float] = (-6.0, 6.0)
    noise_snr_db: Sequence[float] = (20.0, 40.0)
    noise_prob: float = 0.0

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Args: x (T,) float waveform; rng the randomness. Returns (T,) float32."""
        low, high = self.gain_db
        x = x * np.float32(10 ** (rng.uniform(low, high) / 20))
        if rng.random() < self.noise_prob:
            rms = np.sqrt(np.mean(x**2)) + 1e-8
            snr = rng.uniform(self.noise_snr_db[0], self.noise_snr_db[1])
            x = x + rng.standard_normal(len(x)).astype(np.float32) * rms * np.float32(10 ** (-snr / 20))
        return np.clip(x, -1.0, 1.0).astype(np.float32)
