"""Waveform augmentation for training audio detectors: one :class:`AudioAugment` with a chain of steps.

Each step is a callable ``(x, rng) -> x`` on a (T,) float waveform with an explicit ``np.random.Generator`` (the
dataset's, reseeded per dataloader worker by :func:`~dfdet.transforms.seed_worker`): :class:`~dfdet.transforms.
rawboost.RawBoost`, :class:`CodecAugment` (MP3 / AAC / Opus through PyAV, :mod:`dfdet.data.audio.codecs`),
:class:`ResampleAugment` (a trip through a lower rate: telephone and narrow-band channels), :class:`RoomReverb`
(synthetic or recorded room impulse responses) and :class:`AddNoise` (white or recorded noise at a random SNR).
The random gain and white noise of :class:`AudioAugment` itself come after the steps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf
from scipy import signal

from dfdet.data.audio.codecs import codec_roundtrip
from dfdet.data.audio.dsp import room_impulse
from dfdet.data.audio.io import load_audio, resample
from dfdet.errors import ConfigValueError, DatasetNotFoundError

Step = Callable[[np.ndarray, np.random.Generator], np.ndarray]
AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".m4a", ".opus")


@dataclass
class AudioAugment:
    """Training-time waveform augmentation: ``steps`` in order, then a random gain and, with probability
    ``noise_prob``, white noise; clipped to [-1, 1].

    Args:
        gain_db: range of the random gain in dB.
        noise_snr_db: range of the noise's signal-to-noise ratio in dB.
        noise_prob: probability of adding noise.
        steps: augmentation steps ``(x, rng) -> x`` applied first (RawBoost, codecs, resampling, rooms, noise).
    """

    gain_db: Sequence[float] = (-6.0, 6.0)
    noise_snr_db: Sequence[float] = (20.0, 40.0)
    noise_prob: float = 0.0
    steps: Sequence[Step] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Hydra passes instantiated steps inside a ListConfig, which turns dataclass steps back into configs.
        self.steps = [OmegaConf.to_object(s) if OmegaConf.is_config(s) else s for s in self.steps]  # type: ignore[misc]
        for step in self.steps:
            if not callable(step):
                raise ConfigValueError(f"data.train_transform.steps: {step!r} is not an augmentation step")

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Args: x (T,) float waveform; rng the randomness. Returns (T,) float32."""
        for step in self.steps:
            x = step(x, rng)
        low, high = self.gain_db
        x = x * np.float32(10 ** (rng.uniform(low, high) / 20))
        if rng.random() < self.noise_prob:
            rms = np.sqrt(np.mean(x**2)) + 1e-8
            snr = rng.uniform(self.noise_snr_db[0], self.noise_snr_db[1])
            x = x + rng.standard_normal(len(x)).astype(np.float32) * rms * np.float32(10 ** (-snr / 20))
        return np.clip(x, -1.0, 1.0).astype(np.float32)


@dataclass
class CodecAugment:
    """With probability ``prob``, a trip through a codec and bitrate drawn from ``codecs`` and ``bitrates``.

    Args:
        sample_rate: of the waveforms, Hz.
        codecs: among ``mp3``, ``aac``, ``opus``.
        bitrates: bits per second.
        prob: probability of coding a crop.
    """

    sample_rate: int = 16000
    codecs: Sequence[str] = ("mp3", "aac", "opus")
    bitrates: Sequence[int] = (16000, 32000, 64000)
    prob: float = 0.5

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if rng.random() >= self.prob:
            return x
        codec = self.codecs[int(rng.integers(len(self.codecs)))]
        bitrate = self.bitrates[int(rng.integers(len(self.bitrates)))]
        return codec_roundtrip(x, self.sample_rate, codec, int(bitrate))


@dataclass
class ResampleAugment:
    """With probability ``prob``, down to a rate drawn from ``rates`` and back (the band above its Nyquist is lost).

    Args:
        sample_rate: of the waveforms, Hz.
        rates: intermediate rates, Hz.
        prob: probability.
    """

    sample_rate: int = 16000
    rates: Sequence[int] = (8000, 11025, 12000)
    prob: float = 0.3

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if rng.random() >= self.prob:
            return x
        rate = int(self.rates[int(rng.integers(len(self.rates)))])
        y = resample(resample(x.astype(np.float32), self.sample_rate, rate), rate, self.sample_rate)
        out = np.zeros(len(x), dtype=np.float32)
        out[: min(len(x), len(y))] = y[: len(x)]
        return out


def _audio_files(folder: str | None, what: str) -> list[Path]:
    if folder is None:
        return []
    root = Path(folder)
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES) if root.is_dir() else []
    if not files:
        raise DatasetNotFoundError(
            f"{what} folder {root} has no audio files ({', '.join(AUDIO_SUFFIXES)}): point it at a folder of "
            f"{what} recordings (e.g. MUSAN noise or the RIRS_NOISES release) or set it to null"
        )
    return files


@dataclass
class RoomReverb:
    """With probability ``prob``, convolution with a room impulse response: a recorded one from ``rir_dir`` when
    given, else a synthetic one (:func:`~dfdet.data.audio.dsp.room_impulse`, RT60 in ``rt60`` s). The level of the
    direct path is kept; the output keeps the input's length.

    Args:
        sample_rate: of the waveforms, Hz.
        rir_dir: folder of impulse responses (any depth); None: synthetic rooms.
        rt60: range of the synthetic rooms' reverberation time, s.
        prob: probability.
    """

    sample_rate: int = 16000
    rir_dir: str | None = None
    rt60: Sequence[float] = (0.2, 0.8)
    prob: float = 0.3

    def __post_init__(self) -> None:
        self._files = _audio_files(self.rir_dir, "room impulse response")

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if rng.random() >= self.prob:
            return x
        if self._files:
            rir = load_audio(self._files[int(rng.integers(len(self._files)))], self.sample_rate).astype(np.float64)
            rir = rir[int(np.argmax(np.abs(rir))) :] / (np.abs(rir).max() + 1e-12)  # from the direct path, unit peak
        else:
            rir = room_impulse(rng, self.sample_rate, (float(self.rt60[0]), float(self.rt60[1])))
        return signal.fftconvolve(x, rir)[: len(x)].astype(np.float32)


@dataclass
class AddNoise:
    """With probability ``prob``, noise at an SNR drawn in ``snr_db``: a random stretch of a file of ``noise_dir``
    (looped when short), or white noise when None.

    Args:
        sample_rate: of the waveforms, Hz.
        noise_dir: folder of noise recordings (any depth); None: white noise.
        snr_db: SNR range, dB.
        prob: probability.
    """

    sample_rate: int = 16000
    noise_dir: str | None = None
    snr_db: Sequence[float] = (5.0, 20.0)
    prob: float = 0.3

    def __post_init__(self) -> None:
        self._files = _audio_files(self.noise_dir, "noise")

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if rng.random() >= self.prob:
            return x
        if self._files:
            noise = load_audio(self._files[int(rng.integers(len(self._files)))], self.sample_rate)
            noise = np.tile(noise, int(np.ceil(len(x) / max(len(noise), 1))) + 1)
            start = int(rng.integers(len(noise) - len(x) + 1))
            noise = noise[start : start + len(x)].astype(np.float64)
        else:
            noise = rng.standard_normal(len(x))
        snr = rng.uniform(float(self.snr_db[0]), float(self.snr_db[1]))
        scale = np.sqrt(np.mean(x.astype(np.float64) ** 2) / (np.mean(noise**2) + 1e-12)) / 10 ** (snr / 20)
        return (x + scale * noise).astype(np.float32)
