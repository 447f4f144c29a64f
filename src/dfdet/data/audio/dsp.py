"""Signal-processing helpers in NumPy shared by the synthetic generator and the torch front-ends.

Filterbank matrices are built here once and registered as buffers by :mod:`dfdet.models.frontends`, so the front-ends
and the generator agree on the same definitions (HTK mel scale, triangular filters on FFT bins).
"""

from __future__ import annotations

import functools

import numpy as np


def hz_to_mel(hz: np.ndarray | float) -> np.ndarray:
    """HTK mel scale: ``2595 * log10(1 + hz / 700)``."""
    return 2595.0 * np.log10(1.0 + np.asarray(hz, dtype=np.float64) / 700.0)


def mel_to_hz(mel: np.ndarray | float) -> np.ndarray:
    """Inverse of :func:`hz_to_mel`."""
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def triangular_filterbank(edges_hz: np.ndarray, n_fft: int, sample_rate: int) -> np.ndarray:
    """Triangular filters on the ``n_fft // 2 + 1`` FFT bins.

    Args:
        edges_hz: ``n_filters + 2`` increasing frequencies; filter ``i`` rises from ``edges_hz[i]`` to a peak of 1 at
            ``edges_hz[i + 1]`` and falls to 0 at ``edges_hz[i + 2]``.
        n_fft: FFT size.
        sample_rate: in Hz.

    Returns:
        Float32 matrix (n_filters, n_fft // 2 + 1).
    """
    freqs = np.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1)
    lo, mid, hi = edges_hz[:-2, None], edges_hz[1:-1, None], edges_hz[2:, None]
    rising = (freqs[None] - lo) / np.maximum(mid - lo, 1e-9)
    falling = (hi - freqs[None]) / np.maximum(hi - mid, 1e-9)
    return np.clip(np.minimum(rising, falling), 0.0, None).astype(np.float32)


def mel_filterbank(
    n_mels: int, n_fft: int, sample_rate: int, f_min: float = 0.0, f_max: float | None = None
) -> np.ndarray:
    """Mel-spaced triangular filters (HTK scale, peak 1), shape (n_mels, n_fft // 2 + 1)."""
    f_max = sample_rate / 2.0 if f_max is None else f_max
    edges = mel_to_hz(np.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2))
    return triangular_filterbank(edges, n_fft, sample_rate)


def linear_filterbank(
    n_filters: int, n_fft: int, sample_rate: int, f_min: float = 0.0, f_max: float | None = None
) -> np.ndarray:
    """Linearly spaced triangular filters (the LFCC filterbank), shape (n_filters, n_fft // 2 + 1)."""
    f_max = sample_rate / 2.0 if f_max is None else f_max
    return triangular_filterbank(np.linspace(f_min, f_max, n_filters + 2), n_fft, sample_rate)


def dct_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Orthonormal DCT-II matrix (n_out, n_in): ``cepstra = dct_matrix @ log_energies``."""
    k = np.arange(n_out)[:, None]
    n = np.arange(n_in)[None]
    basis = np.cos(np.pi / n_in * (n + 0.5) * k) * np.sqrt(2.0 / n_in)
    basis[0] /= np.sqrt(2.0)
    return basis.astype(np.float32)


@functools.lru_cache(maxsize=8)
def _hann(n: int) -> np.ndarray:
    """Periodic Hann window of length ``n`` (read-only, cached)."""
    window = np.hanning(n + 1)[:-1]
    window.flags.writeable = False
    return window


def stft(x: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Hann-windowed STFT with ``n_fft // 2`` zero padding on both sides.

    Args:
        x: signal (T,).
        n_fft: window and FFT length.
        hop: hop length in samples.

    Returns:
        Complex array (frames, n_fft // 2 + 1), ``frames = 1 + (T + 2 * (n_fft // 2) - n_fft) // hop``.
    """
    pad = n_fft // 2
    padded = np.pad(np.asarray(x, dtype=np.float64), (pad, pad))
    n_frames = 1 + (len(x) + 2 * pad - n_fft) // hop
    frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop][:n_frames]
    return np.fft.rfft(frames * _hann(n_fft), axis=1)


def istft(spec: np.ndarray, n_fft: int, hop: int, length: int) -> np.ndarray:
    """Inverse of :func:`stft` by weighted overlap-add; returns a float64 signal of ``length`` samples.

    ``hop`` must divide ``n_fft`` (the overlap-add then runs as ``n_fft // hop`` shifted block sums).
    """
    if n_fft % hop:
        raise ValueError(f"hop ({hop}) must divide n_fft ({n_fft})")
    window = _hann(n_fft)
    frames = np.fft.irfft(spec, n=n_fft, axis=1) * window
    n_frames, ratio = len(frames), n_fft // hop
    out = np.zeros(hop * (n_frames + ratio))
    norm = np.zeros_like(out)
    w2 = np.tile((window**2).reshape(ratio, hop), (n_frames, 1, 1))
    blocks = frames.reshape(n_frames, ratio, hop)
    for r in range(ratio):
        out[r * hop : (r + n_frames) * hop] += blocks[:, r].ravel()
        norm[r * hop : (r + n_frames) * hop] += w2[:, r].ravel()
    out = out / np.maximum(norm, 1e-8)
    pad = n_fft // 2
    out = out[pad : pad + length]
    return np.pad(out, (0, max(0, length - len(out))))


def griffin_lim(
    magnitude: np.ndarray, n_fft: int, hop: int, length: int, n_iter: int, rng: np.random.Generator
) -> np.ndarray:
    """Signal whose STFT magnitude approximates ``magnitude`` (frames, bins), phases found by Griffin-Lim.

    Starts from random phases drawn from ``rng`` and runs ``n_iter`` projections (with the fast Griffin-Lim momentum
    0.99 of Perraudin et al. 2013). Returns a float64 signal of ``length`` samples.
    """
    phase = np.exp(2j * np.pi * rng.random(magnitude.shape))
    previous = np.zeros_like(phase)
    y = istft(magnitude * phase, n_fft, hop, length)
    for _ in range(n_iter):
        rebuilt = stft(y, n_fft, hop)[: len(magnitude)]
        accelerated = rebuilt + 0.99 * (rebuilt - previous)
        previous = rebuilt
        y = istft(magnitude * accelerated / np.maximum(np.abs(accelerated), 1e-12), n_fft, hop, length)
    return y


SPEECH_BAND = (300.0, 3000.0)  # Hz: where the voiced energy that follows the mouth opening lies


def speech_envelope(
    x: np.ndarray,
    sample_rate: int,
    frame_rate: float,
    n_frames: int | None = None,
    band: tuple[float, float] = SPEECH_BAND,
) -> np.ndarray:
    """Log energy of the speech band per video frame: the sound side of audio-visual synchrony.

    The signal is band-passed with a zero-phase 4th-order Butterworth filter (no delay) and its mean power taken over
    the window of one frame period centred on each frame's timestamp ``k / frame_rate``.

    Args:
        x: mono waveform (T,).
        sample_rate: its rate in Hz.
        frame_rate: video frames per second.
        n_frames: frames to return (default: as many as the sound covers); frames past its end get the floor.
        band: pass band in Hz.

    Returns:
        (n_frames,) float64 log power, floored 60 dB below the loudest frame.
    """
    from scipy import signal

    x = np.asarray(x, dtype=np.float64)
    hop = sample_rate / frame_rate
    n = int(len(x) / hop) if n_frames is None else int(n_frames)
    if len(x) > 27:  # sosfiltfilt's minimum length for this filter
        high = min(band[1], 0.45 * sample_rate)
        x = signal.sosfiltfilt(signal.butter(4, (band[0], high), "bandpass", fs=sample_rate, output="sos"), x)
    power = np.concatenate([[0.0], np.cumsum(x * x)])
    edges = np.clip(np.round((np.arange(n + 1) - 0.5) * hop).astype(np.int64), 0, len(x))
    energy = (power[edges[1:]] - power[edges[:-1]]) / hop
    return np.log(energy + 1e-6 * max(float(energy.max(initial=0.0)), 1e-12))


def room_impulse(
    rng: np.random.Generator,
    sample_rate: int,
    rt60: tuple[float, float] = (0.1, 0.4),
    drr_db: tuple[float, float] = (6.0, 18.0),
) -> np.ndarray:
    """A synthetic room impulse response: a unit direct path, then exponentially decaying noise (60 dB down after an
    RT60 drawn in ``rt60`` seconds, starting 2 ms after the direct path) at a direct-to-reverberant energy ratio drawn
    in ``drr_db``. Returns (int(RT60 * sample_rate),) float64."""
    t60 = rng.uniform(*rt60)
    n = max(int(t60 * sample_rate), 1)
    t = np.arange(n) / sample_rate
    tail = rng.standard_normal(n) * np.exp(-6.9 * t / t60)
    tail[: int(0.002 * sample_rate)] = 0.0
    drr = 10 ** (rng.uniform(*drr_db) / 10)
    tail *= np.sqrt(1.0 / (drr * (tail**2).sum() + 1e-12))
    tail[0] = 1.0
    return tail
