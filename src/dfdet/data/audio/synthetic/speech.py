"""Speech-like bona fide signals from a source-filter model: speakers, utterance plans and their rendering.

A speaker is a set of traits (mean pitch and range, vocal-tract length as a formant scale, jitter, shimmer,
breathiness, glottal open quotient, speaking rate, vowel idiosyncrasies). An utterance is planned as phrases of
syllables ((C)V(C): vowels, fricatives, plosives, nasals, pauses) with per-frame formant, amplitude and pitch-accent
tracks, then rendered: a glottal pulse train (Rosenberg flow derivative) along a jittered pitch contour with
declination and accents, plus pitch-synchronous aspiration and frication noise, filtered in the STFT domain by
time-varying cascade formant resonators (all-pole, so the filter is minimum phase like a vocal tract).

Every function takes its randomness as an ``np.random.Generator``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dfdet.data.audio.dsp import istft, stft

SAMPLE_RATE = 16000
HOP = 128  # samples per parameter frame (8 ms)
N_FFT = 512  # synthesis STFT (32 ms)

# (F1, F2, F3) of adult male vowels (Peterson & Barney 1952), Hz.
VOWELS = np.array(
    [[270, 2290, 3010], [390, 1990, 2550], [530, 1840, 2480], [660, 1720, 2410], [730, 1090, 2440],
     [570, 840, 2410], [440, 1020, 2240], [300, 870, 2240], [640, 1190, 2390], [490, 1350, 1690]],
    dtype=np.float64,
)  # fmt: skip
FRICATIVES = {
    "s": (5500.0, 2500.0, 1.0),
    "sh": (3000.0, 1500.0, 1.0),
    "f": (4000.0, 6000.0, 0.3),
    "th": (5000.0, 6000.0, 0.2),
}
BURSTS = {"p": 1200.0, "t": 4200.0, "k": 2500.0}
NASAL_F2 = {"m": 1100.0, "n": 1700.0}


@dataclass(frozen=True)
class Speaker:
    """Voice traits of one synthetic speaker."""

    f0: float  # mean pitch, Hz
    f0_range: float  # pitch-accent size, semitones
    formant_scale: float  # vocal-tract length factor applied to every formant
    jitter: float  # relative per-period pitch perturbation (std)
    shimmer: float  # relative per-period amplitude perturbation (std)
    breathiness: float  # aspiration noise level relative to voicing
    open_quotient: float  # glottal open phase as a fraction of the period (higher = softer, steeper tilt)
    rate: float  # syllables per second
    vowel_shift: np.ndarray = field(repr=False)  # (10, 3) per-vowel formant factors (accent)


def sample_speaker(rng: np.random.Generator) -> Speaker:
    """Draws a speaker: about half low-pitched (long vocal tract), half high-pitched (short)."""
    high = rng.random() < 0.5
    return Speaker(
        f0=float(rng.uniform(165, 250) if high else rng.uniform(85, 150)),
        f0_range=float(rng.uniform(1.5, 5.0)),
        formant_scale=float(rng.uniform(1.08, 1.22) if high else rng.uniform(0.9, 1.05)),
        jitter=float(rng.uniform(0.004, 0.02)),
        shimmer=float(rng.uniform(0.02, 0.08)),
        breathiness=float(rng.uniform(0.02, 0.25)),
        open_quotient=float(rng.uniform(0.45, 0.75)),
        rate=float(rng.uniform(3.0, 5.5)),
        vowel_shift=rng.normal(1.0, 0.04, size=(len(VOWELS), 3)),
    )


@dataclass
class Plan:
    """Per-frame tracks of one utterance (``n`` frames of :data:`HOP` samples)."""

    formants: np.ndarray  # (n, 5) Hz
    bandwidths: np.ndarray  # (n, 5) Hz
    voice: np.ndarray  # (n,) voicing amplitude
    aspiration: np.ndarray  # (n,) aspiration noise amplitude (through the formants)
    frication: np.ndarray  # (n,) frication noise amplitude
    fric_center: np.ndarray  # (n,) Hz
    fric_bandwidth: np.ndarray  # (n,) Hz
    accent: np.ndarray  # (n,) pitch offset, semitones (accents + declination)


@dataclass(frozen=True)
class Style:
    """How a plan is rendered: natural speech, or a parametric vocoder's flattened, over-regular rendition."""

    accent_scale: float = 1.0  # multiplies the pitch accents (pitch flattening < 1)
    jitter_scale: float = 1.0
    shimmer_scale: float = 1.0
    hold_frames: int = 1  # parameters held constant over this many frames (vocoder frame rate)
    smooth_frames: int = 3  # moving-average length of the amplitude and formant tracks (coarticulation)


def plan_utterance(speaker: Speaker, seconds: float, rng: np.random.Generator) -> Plan:
    """Plans an utterance of about ``seconds``: phrases of syllables with accents, pauses and declination."""
    n = int(seconds * SAMPLE_RATE / HOP)
    form = np.full((n, 3), np.nan)
    voice, asp, fric = np.zeros(n), np.zeros(n), np.zeros(n)
    fc, fbw, accent = np.full(n, 4000.0), np.full(n, 3000.0), np.zeros(n)
    nasal = np.zeros(n, dtype=bool)
    ms = SAMPLE_RATE / HOP / 1000.0  # frames per millisecond
    t = int(rng.uniform(60, 200) * ms)
    while t < n - int(150 * ms):
        for _ in range(int(rng.integers(3, 9))):  # syllables of one phrase
            syllable = rng.uniform(0.7, 1.3) * 1000.0 / speaker.rate * ms
            onset = rng.choice(["", "s", "sh", "f", "th", "p", "t", "k", "b", "d", "m", "n", "h"])
            t0 = t
            if onset in FRICATIVES:
                center, bw, gain = FRICATIVES[onset]
                d = int(rng.uniform(0.25, 0.4) * syllable)
                fric[t : t + d], fc[t : t + d], fbw[t : t + d] = gain * rng.uniform(0.2, 0.5), center, bw
                t += d
            elif onset in BURSTS or onset in ("b", "d"):
                closure = int(rng.uniform(40, 80) * ms)
                voice[t : t + closure] = 0.08 if onset in ("b", "d") else 0.0
                t += closure
                fric[t : t + 2], fc[t : t + 2], fbw[t : t + 2] = rng.uniform(0.3, 0.7), BURSTS.get(onset, 2500.0), 2500
                t += 2
                if onset in BURSTS:
                    d = int(rng.uniform(20, 50) * ms)
                    asp[t : t + d] = rng.uniform(0.15, 0.35)
                    t += d
            elif onset in NASAL_F2:
                d = int(rng.uniform(0.2, 0.3) * syllable)
                voice[t : t + d], nasal[t : t + d] = 0.35, True
                form[t : t + d] = (280.0, NASAL_F2[onset], 2500.0)
                t += d
            elif onset == "h":
                d = int(rng.uniform(0.15, 0.25) * syllable)
                asp[t : t + d] = rng.uniform(0.2, 0.4)
                t += d
            d = max(int(syllable - (t - t0)), int(50 * ms))
            v = int(rng.integers(len(VOWELS)))
            form[t : t + d] = VOWELS[v] * speaker.vowel_shift[v] * rng.normal(1.0, 0.03, 3)
            voice[t : t + d] = rng.uniform(0.7, 1.0)
            if rng.random() < 0.35:  # pitch accent on this syllable
                centre = t + d * rng.uniform(0.2, 0.8)
                width = d * rng.uniform(0.4, 0.9)
                idx = np.arange(n)
                accent += rng.choice([-0.6, 1.0]) * speaker.f0_range * np.exp(-0.5 * ((idx - centre) / width) ** 2)
            t += d
            if rng.random() < 0.3 and t < n:  # coda fricative
                d = int(rng.uniform(40, 90) * ms)
                fric[t : t + d], fc[t : t + d], fbw[t : t + d] = rng.uniform(0.1, 0.4), 5500.0, 2500.0
                t += d
            if t >= n - int(150 * ms):
                break
        t += int(rng.uniform(80, 350) * ms)  # pause between phrases
    return _finish_plan(speaker, form, nasal, voice, asp, fric, fc, fbw, accent, rng)


def _finish_plan(
    speaker: Speaker,
    form: np.ndarray,
    nasal: np.ndarray,
    voice: np.ndarray,
    asp: np.ndarray,
    fric: np.ndarray,
    fc: np.ndarray,
    fbw: np.ndarray,
    accent: np.ndarray,
    rng: np.random.Generator,
) -> Plan:
    n = len(voice)
    known = ~np.isnan(form[:, 0])
    idx = np.arange(n)
    if not known.any():
        form[:] = VOWELS[8]
        known[:] = True
    form = np.stack([np.interp(idx, idx[known], form[known, k]) for k in range(3)], axis=1)
    scale = speaker.formant_scale
    high = np.stack([np.full(n, 3500.0), np.full(n, 4500.0)], axis=1)
    formants = np.concatenate([form, high], axis=1) * scale
    bandwidths = np.tile([60.0, 90.0, 150.0, 250.0, 350.0], (n, 1)) * rng.uniform(0.8, 1.3)
    bandwidths[nasal] *= 2.0
    declination = np.linspace(1.0, -rng.uniform(1.0, 4.0), n)  # semitones over the utterance
    return Plan(formants, bandwidths, voice, asp, fric, fc, fbw, accent + declination)


def _smooth(x: np.ndarray, frames: int) -> np.ndarray:
    if frames <= 1:
        return x
    kernel = np.hanning(frames + 2)[1:-1]
    kernel /= kernel.sum()
    pad = [(frames, frames)] + [(0, 0)] * (x.ndim - 1)
    padded = np.pad(x, pad, mode="edge")
    out = sum(w * padded[i : i + len(padded) - frames + 1] for i, w in enumerate(kernel))
    start = frames - (frames - 1) // 2
    return out[start : start + len(x)]


def _hold(x: np.ndarray, frames: int) -> np.ndarray:
    if frames <= 1:
        return x
    idx = (np.arange(len(x)) // frames) * frames
    return x[idx]


def resonators(freqs: np.ndarray, bandwidths: np.ndarray, n_fft: int, peak_normalise: bool = False) -> np.ndarray:
    """Complex response of a cascade of two-pole resonators on the FFT bins.

    Args:
        freqs: (frames, K) resonance frequencies in Hz.
        bandwidths: (frames, K) bandwidths in Hz.
        n_fft: FFT size.
        peak_normalise: scale each resonator to unit gain at its peak (else unit gain at DC, like Klatt's).

    Returns:
        Complex array (frames, n_fft // 2 + 1).
    """
    z1 = np.exp(-2j * np.pi * np.arange(n_fft // 2 + 1) / n_fft).astype(np.complex64)[None]
    z2 = z1 * z1
    out = np.ones((freqs.shape[0], z1.shape[1]), dtype=np.complex64)
    for k in range(freqs.shape[1]):
        r = np.exp(-np.pi * bandwidths[:, k : k + 1] / SAMPLE_RATE).astype(np.float32)
        theta = 2 * np.pi * np.minimum(freqs[:, k : k + 1], 0.48 * SAMPLE_RATE) / SAMPLE_RATE
        c = (2 * r * np.cos(theta)).astype(np.float32)
        h = 1.0 / (1.0 - c * z1 + (r * r) * z2)
        h *= 1.0 / np.abs(h).max(axis=1, keepdims=True) if peak_normalise else (1.0 - c + r * r)
        out *= h
    return out


def glottal_source(
    f0: np.ndarray, speaker: Speaker, style: Style, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Glottal flow derivative (Rosenberg pulses) along a per-sample pitch track, and the open-phase mask.

    Args:
        f0: (T,) pitch in Hz.

    Returns:
        ``(excitation, flow)``, each (T,): the flow derivative, and the flow itself (in [0, 1], used to modulate
        aspiration noise pitch-synchronously).
    """
    base_phase = np.cumsum(f0 / SAMPLE_RATE)
    periods = int(base_phase[-1]) + 2
    jitter = 1.0 + speaker.jitter * style.jitter_scale * rng.standard_normal(periods)
    phase = np.cumsum(f0 * jitter[base_phase.astype(np.int64)] / SAMPLE_RATE)
    period = phase.astype(np.int64)
    u = phase - period
    oq = speaker.open_quotient
    tp, tn = oq * 2.0 / 3.0, oq / 3.0
    flow = np.where(u < tp, 0.5 * (1 - np.cos(np.pi * u / tp)), np.cos(np.pi * (u - tp) / (2 * tn)))
    flow = np.where(u < tp + tn, flow, 0.0)
    amp = 1.0 + speaker.shimmer * style.shimmer_scale * rng.standard_normal(int(period[-1]) + 2)
    flow = flow * amp[period]
    excitation = np.diff(flow, prepend=flow[:1]) * f0 / 100.0  # derivative per period, roughly level-independent
    return excitation, flow


def render(plan: Plan, speaker: Speaker, style: Style, rng: np.random.Generator, f0_scale: float = 1.0) -> np.ndarray:
    """Renders a plan into a waveform (float64, about unit peak level, ``len(plan.voice) * HOP`` samples).

    Args:
        plan: the utterance's tracks.
        speaker: voice traits.
        style: natural (default) or vocoder-like rendition.
        rng: noise source.
        f0_scale: multiplies the speaker's mean pitch for this utterance.
    """
    n = len(plan.voice)
    total = n * HOP
    hold = style.hold_frames

    def track(x: np.ndarray) -> np.ndarray:
        return _hold(_smooth(x, style.smooth_frames), hold)

    voice, asp, fric = track(plan.voice), track(plan.aspiration), track(plan.frication)
    frames_t = (np.arange(n) + 0.5) * HOP
    samples_t = np.arange(total)
    wander = _smooth(rng.standard_normal(n), 25) * 2.0 * style.accent_scale
    semitones = _hold(plan.accent * style.accent_scale + wander, hold)
    f0 = np.interp(samples_t, frames_t, speaker.f0 * f0_scale * 2.0 ** (semitones / 12.0))
    excitation, flow = glottal_source(f0, speaker, style, rng)
    voice_s = np.interp(samples_t, frames_t, voice)
    breath = speaker.breathiness * voice_s * (0.4 + flow) + np.interp(samples_t, frames_t, asp)
    through_tract = excitation * voice_s + 0.1 * breath * rng.standard_normal(total)
    noise = 0.06 * np.interp(samples_t, frames_t, fric) * rng.standard_normal(total)

    formants = _hold(_smooth(plan.formants, 2 * style.smooth_frames), hold)
    bandwidths = _hold(plan.bandwidths, hold)
    tract = resonators(formants, bandwidths, N_FFT)
    fric_filter = (
        resonators(
            np.stack([_hold(plan.fric_center, hold)], axis=1),
            np.stack([_hold(plan.fric_bandwidth, hold)], axis=1),
            N_FFT,
            peak_normalise=True,
        )
        ** 2
    )
    spec_v, spec_n = stft(through_tract, N_FFT, HOP), stft(noise, N_FFT, HOP)
    m = len(spec_v)
    pad = ((0, m - n), (0, 0))
    out = istft(
        spec_v * np.pad(tract, pad, mode="edge") + spec_n * np.pad(fric_filter, pad, mode="edge"), N_FFT, HOP, total
    )
    return out / (np.abs(out).max() + 1e-9)
