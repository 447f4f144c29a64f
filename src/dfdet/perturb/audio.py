"""Audio distortions of the wild: lossy codecs, narrow-band resampling, additive noise at an SNR, packet loss.

Every function maps a mono float32 waveform (N,) at ``sample_rate`` to a waveform of the same length and rate.
The lossy codecs are :func:`dfdet.data.audio.codecs.codec_roundtrip`, the one place that encodes and decodes sound
(training augmentation and the evaluation sweep both call it); here are the other distortions.
"""

from __future__ import annotations

import numpy as np

from dfdet.data.audio.io import resample


def narrowband(wave: np.ndarray, sample_rate: int, rate: float = 8000) -> np.ndarray:
    """Resampled to ``rate`` (telephone band) and back to ``sample_rate`` (polyphase, anti-aliased)."""
    low = resample(wave, sample_rate, int(rate))
    back = resample(low, int(rate), sample_rate)[: len(wave)]
    return np.pad(back, (0, len(wave) - len(back))) if len(back) < len(wave) else back


def add_noise(wave: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    """White Gaussian noise added at a signal-to-noise ratio of ``snr_db`` (signal power over noise power, measured
    on this waveform); not clipped, so the SNR holds exactly in expectation."""
    power = float(np.mean(np.square(wave, dtype=np.float64)))
    noise = rng.standard_normal(len(wave)) * np.sqrt(power / 10 ** (snr_db / 10))
    return (wave + noise).astype(np.float32)


def packet_loss(
    wave: np.ndarray, sample_rate: int, rate: float, rng: np.random.Generator, packet_ms: float = 20.0
) -> np.ndarray:
    """Each ``packet_ms`` packet is lost (zeroed, as a decoder without concealment plays it) with probability
    ``rate``, independently (VoIP packets carry 20 ms)."""
    size = max(1, int(sample_rate * packet_ms / 1000))
    lost = rng.random(-(-len(wave) // size)) < rate
    mask = np.repeat(~lost, size)[: len(wave)]
    return (wave * mask).astype(np.float32)
