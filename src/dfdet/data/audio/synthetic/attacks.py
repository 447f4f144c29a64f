"""Spoofing attacks on synthetic speech, and the recording channel shared by bona fide and spoofed utterances.

Attacks (the ``method`` column), each with randomised strength:

- ``gl_vocoder``: what a mel-spectrogram vocoder keeps: the STFT magnitude is compressed to 24-64 mel bands, expanded
  back (losing harmonic detail where mel bands are wider than the harmonic spacing), slightly over-smoothed in time
  (as acoustic models do) and turned back into a waveform with Griffin-Lim phases (2-12 iterations);
- ``codec``: a low-bitrate transform codec: STFT magnitudes quantised in 3-8 dB steps, bins below a masking level
  zeroed (spectral holes), a brick-wall band limit at 4-7.5 kHz, original phases;
- ``flat_vocoder``: a parametric (HTS/WORLD-like) vocoder's rendition of the same speaker: pitch accents flattened to
  0-30 %, no jitter or shimmer, parameters held over 2-4 frames (a coarse frame rate), no coarticulation smoothing.

The channel (room reverberation, microphone high-pass, spectral tilt, optional band limit, coloured noise at
20-50 dB SNR and a random level) is drawn from the same distribution for both classes, so level, noise and average
spectrum say little about the label; only the attacks' artefacts do.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import signal

from dfdet.data.audio.dsp import griffin_lim, istft, mel_filterbank, room_impulse, stft
from dfdet.data.audio.synthetic.speech import SAMPLE_RATE, Plan, Speaker, Style, render

ATTACKS = ("gl_vocoder", "codec", "flat_vocoder")


@functools.lru_cache(maxsize=64)
def _mel(n_mels: int, n_fft: int) -> np.ndarray:
    """A mel filterbank (n_mels, bins), float64, cached."""
    return mel_filterbank(n_mels, n_fft, SAMPLE_RATE).astype(np.float64)


def gl_vocoder(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Mel-compressed magnitude, over-smoothed, Griffin-Lim phases. ``x`` (T,) -> (T,)."""
    n_fft, hop = 1024, 256
    mag = np.abs(stft(x, n_fft, hop))
    fb = _mel(int(rng.integers(24, 65)), n_fft)
    band_means = mag @ fb.T / fb.sum(axis=1)
    expanded = band_means @ fb / np.maximum(fb.sum(axis=0), 1e-3)  # linear interpolation between band centres
    smooth = rng.uniform(0.1, 0.4)
    expanded[1:-1] = (1 - 2 * smooth) * expanded[1:-1] + smooth * (expanded[:-2] + expanded[2:])
    return griffin_lim(expanded, n_fft, hop, len(x), int(rng.integers(2, 13)), rng)


def codec(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Quantised magnitudes, spectral holes and a brick-wall band limit, original phases. ``x`` (T,) -> (T,)."""
    n_fft, hop = 512, 256
    spec = stft(x, n_fft, hop)
    mag, phase = np.abs(spec), np.angle(spec)
    step = rng.uniform(3.0, 8.0)
    db = 20 * np.log10(mag + 1e-9)
    db = np.round(db / step) * step
    holes = db < db.max(axis=1, keepdims=True) - rng.uniform(20.0, 35.0)
    cutoff = int(rng.uniform(4000.0, 7500.0) / SAMPLE_RATE * n_fft)
    mag = np.where(holes, 0.0, 10 ** (db / 20))
    mag[:, cutoff:] = 0.0
    return istft(mag * np.exp(1j * phase), n_fft, hop, len(x))


def flat_vocoder(plan: Plan, speaker: Speaker, rng: np.random.Generator, f0_scale: float = 1.0) -> np.ndarray:
    """Renders ``plan`` as a parametric vocoder would: flat pitch, perfectly regular periods, coarse frames."""
    style = Style(
        accent_scale=rng.uniform(0.0, 0.3),
        jitter_scale=0.0,
        shimmer_scale=0.0,
        hold_frames=int(rng.integers(2, 5)),
        smooth_frames=1,
    )
    return render(plan, speaker, style, rng, f0_scale=f0_scale)


def _room(rng: np.random.Generator) -> np.ndarray:
    """A synthetic room impulse response: direct path plus exponentially decaying noise (RT60 0.1-0.4 s)."""
    return room_impulse(rng, SAMPLE_RATE)


def _coloured_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Noise with a 1/f^alpha power spectrum, alpha in [0, 1.5] (white to between pink and brown)."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.maximum(np.arange(len(spec)), 1.0)
    noise = np.fft.irfft(spec * f ** (-rng.uniform(0.0, 1.5) / 2), n=n)
    return noise / (noise.std() + 1e-12)


def channel(x: np.ndarray, rng: np.random.Generator, lowpass_prob: float) -> np.ndarray:
    """A recording channel: room, microphone, optional band limit, noise and level.

    Args:
        x: clean signal (T,).
        rng: randomness.
        lowpass_prob: probability of a Butterworth band limit at 3.8-7.5 kHz (the generator sets it per class so
            that band-limited utterances are about as frequent among bona fide as among spoofs).

    Returns:
        Float32 signal (T,) in [-1, 1].
    """
    if rng.random() < 0.5:
        x = signal.fftconvolve(x, _room(rng))[: len(x)]
    x = signal.sosfilt(signal.butter(2, rng.uniform(50.0, 150.0), "highpass", fs=SAMPLE_RATE, output="sos"), x)
    tilt = rng.uniform(-0.5, 0.5)  # first-order spectral tilt: + brightens, - darkens
    x = x + tilt * np.diff(x, prepend=x[:1]) * 2.0
    if rng.random() < lowpass_prob:
        order = int(rng.integers(4, 9))
        sos = signal.butter(order, rng.uniform(3800.0, 7500.0), "lowpass", fs=SAMPLE_RATE, output="sos")
        x = signal.sosfilt(sos, x)
    rms = np.sqrt(np.mean(x**2)) + 1e-12
    snr_db = rng.uniform(20.0, 50.0)
    x = x + _coloured_noise(len(x), rng) * rms * 10 ** (-snr_db / 20)
    level_db = rng.uniform(-32.0, -16.0)
    x = x * 10 ** (level_db / 20) / (np.sqrt(np.mean(x**2)) + 1e-12)
    return np.clip(x, -0.99, 0.99).astype(np.float32)
