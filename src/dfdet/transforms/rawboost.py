"""RawBoost (Tak et al., "RawBoost: A Raw Data Boosting and Augmentation Method applied to Automatic Speaker
Verification Anti-Spoofing", ICASSP 2022): data boosting on the raw waveform, with an explicit random generator.

- Algorithm 1, linear and non-linear convolutive noise (:func:`lnl_convolutive_noise`): a sum of the signal's first
  ``n_f`` powers, each through a random multi-band FIR filter (notch-like band-pass products), the higher orders
  attenuated.
- Algorithm 2, impulsive signal-dependent noise (:func:`isd_additive_noise`): up to ``P`` % of the samples, at random
  places, get a signal-proportional random impulse.
- Algorithm 3, stationary signal-independent noise (:func:`ssi_additive_noise`): white noise through a random
  FIR filter, added at a random SNR.

:class:`RawBoost` chains them as the paper's configurations (``algo`` 1-8 of the authors' code: each alone, the
series 1+2+3, 1+2, 1+3, 2+3, and the parallel 1 || 2). Default parameters are the paper's / the release's
(ASVspoof 2021 LA used ``algo=5``, DF ``algo=3`` in Tak et al.'s wav2vec 2.0 recipes).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import signal

SERIES = {1: (1,), 2: (2,), 3: (3,), 4: (1, 2, 3), 5: (1, 2), 6: (1, 3), 7: (2, 3)}


@dataclass(frozen=True)
class FilterBands:
    """Random multi-band FIR filters: ``n_bands`` band-pass filters with centre in [min_f, max_f] Hz, width in
    [min_bw, max_bw] Hz, ``[min_coeff, max_coeff]`` taps (made odd), convolved; the product's peak set to a gain in
    [min_g, max_g] dB."""

    n_bands: int = 5
    min_f: float = 20.0
    max_f: float = 8000.0
    min_bw: float = 100.0
    max_bw: float = 1000.0
    min_coeff: int = 10
    max_coeff: int = 100
    min_g: float = 0.0
    max_g: float = 0.0


def _norm(x: np.ndarray, always: bool) -> np.ndarray:
    peak = np.abs(x).max()
    return x / peak if peak > 0 and (always or peak > 1) else x


def random_filter(bands: FilterBands, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """FIR coefficients of one random multi-band filter (the release's ``genNotchCoeffs``)."""
    b = np.ones(1)
    for _ in range(bands.n_bands):
        fc = rng.uniform(bands.min_f, bands.max_f)
        bw = rng.uniform(bands.min_bw, bands.max_bw)
        taps = int(rng.uniform(bands.min_coeff, bands.max_coeff))
        taps += 1 - taps % 2  # odd
        f1 = max(fc - bw / 2, 1e-3)
        f2 = min(fc + bw / 2, sample_rate / 2 - 1e-3)
        b = np.convolve(signal.firwin(taps, [f1, f2], window="hamming", pass_zero=False, fs=sample_rate), b)
    gain = bands.min_g + (bands.max_g - bands.min_g) * rng.random()  # the biased range may be reversed (-5 to -20)
    _, h = signal.freqz(b, 1, fs=sample_rate)
    return 10 ** (gain / 20) * b / np.abs(h).max()


def _fir(x: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Zero-phase-delay FIR filtering of the release: pad, filter, drop half the filter length at each end."""
    n = len(b) + 1
    y = signal.lfilter(b, 1, np.pad(x, (0, n)))
    return y[n // 2 : len(y) - n // 2][: len(x)]


def lnl_convolutive_noise(
    x: np.ndarray,
    rng: np.random.Generator,
    sample_rate: int = 16000,
    bands: FilterBands = FilterBands(),
    n_f: int = 5,
    min_bias: float = 5.0,
    max_bias: float = 20.0,
) -> np.ndarray:
    """Algorithm 1: ``y = sum_j f_j(x^j)`` for j = 1..n_f, the higher orders' gains lowered by [min_bias, max_bias]
    dB (as the release: from the second order on), then zero mean and peak-limited to 1."""
    y = np.zeros(len(x))
    for j in range(n_f):
        shifted = bands if j == 0 else FilterBands(**{**bands.__dict__, "min_g": bands.min_g - min_bias,
                                                       "max_g": bands.max_g - max_bias})  # fmt: skip
        y += _fir(np.power(x, j + 1), random_filter(shifted, sample_rate, rng))
    return _norm(y - y.mean(), always=False)


def isd_additive_noise(x: np.ndarray, rng: np.random.Generator, p: float = 10.0, g_sd: float = 2.0) -> np.ndarray:
    """Algorithm 2: a random ``beta`` in [0, p] % of the samples get ``g_sd * x * f_r``, ``f_r`` the product of two
    uniforms in [-1, 1]; then peak-limited to 1."""
    beta = rng.uniform(0, p)
    n = int(len(x) * beta / 100)
    idx = rng.permutation(len(x))[:n]
    y = x.astype(np.float64, copy=True)
    f_r = (2 * rng.random(n) - 1) * (2 * rng.random(n) - 1)
    y[idx] = x[idx] + g_sd * x[idx] * f_r
    return _norm(y, always=False)


def ssi_additive_noise(
    x: np.ndarray,
    rng: np.random.Generator,
    sample_rate: int = 16000,
    bands: FilterBands = FilterBands(),
    snr_min: float = 10.0,
    snr_max: float = 40.0,
) -> np.ndarray:
    """Algorithm 3: white noise through a random multi-band filter, added at an SNR drawn in [snr_min, snr_max] dB."""
    noise = _norm(_fir(rng.standard_normal(len(x)), random_filter(bands, sample_rate, rng)), always=True)
    snr = rng.uniform(snr_min, snr_max)
    scale = np.linalg.norm(x) / (np.linalg.norm(noise) + 1e-12) / 10 ** (0.05 * snr)
    return x + noise * scale


def _bands(value: FilterBands | Mapping[str, Any]) -> FilterBands:
    return value if isinstance(value, FilterBands) else FilterBands(**dict(value))  # a mapping from a config


@dataclass
class RawBoost:
    """RawBoost as a training augmentation step ``(x, rng) -> x`` (see :class:`~dfdet.transforms.audio.AudioAugment`).

    Args:
        algo: 1 LnL, 2 ISD, 3 SSI, 4 series 1+2+3, 5 series 1+2, 6 series 1+3, 7 series 2+3, 8 parallel 1 || 2
            (LnL(x) + ISD(x)), as the authors' code numbers them.
        sample_rate: of the waveforms, Hz (the filters' scale).
        bands: the random filters of algorithms 1 (convolutive) and 3 (``ssi_bands``: noise colouring).
        n_f, min_bias, max_bias: algorithm 1.
        p, g_sd: algorithm 2.
        snr_min, snr_max: algorithm 3.
        prob: probability of boosting a crop (the paper boosts every one).
    """

    algo: int = 5
    sample_rate: int = 16000
    bands: FilterBands = FilterBands()
    ssi_bands: FilterBands = FilterBands()
    n_f: int = 5
    min_bias: float = 5.0
    max_bias: float = 20.0
    p: float = 10.0
    g_sd: float = 2.0
    snr_min: float = 10.0
    snr_max: float = 40.0
    prob: float = 1.0

    def __post_init__(self) -> None:
        if self.algo not in (*SERIES, 8):
            raise ValueError(f"RawBoost algo must be 1-8, got {self.algo}")
        self.bands = _bands(self.bands)
        self.ssi_bands = _bands(self.ssi_bands)

    def _step(self, k: int, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if k == 1:
            return lnl_convolutive_noise(x, rng, self.sample_rate, self.bands, self.n_f, self.min_bias, self.max_bias)
        if k == 2:
            return isd_additive_noise(x, rng, self.p, self.g_sd)
        return ssi_additive_noise(x, rng, self.sample_rate, self.ssi_bands, self.snr_min, self.snr_max)

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Args: x (T,) float waveform; rng the randomness. Returns (T,) float32."""
        if rng.random() >= self.prob:
            return x.astype(np.float32, copy=False)
        y = x.astype(np.float64)
        if self.algo == 8:
            y = _norm(self._step(1, y, rng) + self._step(2, y, rng), always=False)
        else:
            for k in SERIES[self.algo]:
                y = self._step(k, y, rng)
        return y.astype(np.float32)
