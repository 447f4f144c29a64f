"""Audio distortions of the wild: lossy codecs, narrow-band resampling, additive noise at an SNR, packet loss.

Every function maps a mono float32 waveform (N,) at ``sample_rate`` to a waveform of the same length and rate.
:func:`codec_roundtrip` is the one place that encodes and decodes sound with a lossy codec (PyAV / FFmpeg: MP3 by
libmp3lame, AAC by FFmpeg's native encoder, Opus by libopus); training augmentation and the evaluation sweep both
call it.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from dfdet.data.audio.io import resample

# codec name -> (FFmpeg encoder, container, the encoder's sample format, rates it accepts (None: any))
CODECS: dict[str, tuple[str, str, str, tuple[int, ...] | None]] = {
    "mp3": ("libmp3lame", "mp3", "fltp", (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)),
    "aac": ("aac", "adts", "fltp", None),
    "opus": ("libopus", "ogg", "flt", (8000, 12000, 16000, 24000, 48000)),
}


def _encode(wave: np.ndarray, sample_rate: int, codec: str, kbps: float) -> tuple[bytes, int]:
    import av

    encoder, fmt, sample_fmt, rates = CODECS[codec]
    rate = (
        sample_rate if rates is None or sample_rate in rates else min(r for r in rates if r >= min(sample_rate, 48000))
    )
    data = resample(wave, sample_rate, rate) if rate != sample_rate else wave
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=fmt) as container:
        stream: Any = container.add_stream(encoder, rate=rate)
        stream.bit_rate = int(kbps * 1000)
        stream.layout = "mono"
        stream.format = sample_fmt
        frame = av.AudioFrame.from_ndarray(data.astype(np.float32)[None], format="flt", layout="mono")
        frame.sample_rate = rate
        resampler = av.AudioResampler(format=sample_fmt, layout="mono", rate=rate, frame_size=stream.frame_size or None)
        for chunk in [*resampler.resample(frame), *resampler.resample(None)]:
            for packet in stream.encode(chunk):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue(), rate


def encoded_size(wave: np.ndarray, sample_rate: int, codec: str, kbps: float) -> int:
    """Bytes of ``wave`` encoded with ``codec`` at ``kbps`` (what :func:`codec_roundtrip` decodes)."""
    return len(_encode(wave, sample_rate, codec, kbps)[0])


def codec_roundtrip(wave: np.ndarray, sample_rate: int, codec: str, kbps: float) -> np.ndarray:
    """``wave`` after encoding with ``codec`` (``mp3``, ``aac``, ``opus``) at ``kbps`` kbit/s and decoding.

    The decoded signal is aligned to the input by the encoder delay (found by cross-correlation, within 100 ms)
    and cut or zero-padded to the input's length.
    """
    import av

    if codec not in CODECS:
        raise ValueError(f"unknown codec '{codec}'; choose one of {sorted(CODECS)}")
    data, rate = _encode(wave, sample_rate, codec, kbps)
    resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
    chunks = []
    with av.open(io.BytesIO(data), mode="r") as container:
        for frame in container.decode(audio=0):
            chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    decoded = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    decoded = resample(decoded, rate, sample_rate) if rate != sample_rate else decoded
    return _align(decoded, wave, max_lag=sample_rate // 10)


def _align(decoded: np.ndarray, reference: np.ndarray, max_lag: int) -> np.ndarray:
    """``decoded`` shifted by the lag (0..max_lag samples) that best matches ``reference``, at its length."""
    n = len(reference)
    span = min(n, 4 * max_lag + 1024)
    if len(decoded) > span and span > 0 and np.any(reference[:span]):
        scores = [float(np.dot(decoded[lag : lag + span], reference[:span])) for lag in range(0, max_lag + 1)
                  if lag + span <= len(decoded)]  # fmt: skip
        lag = int(np.argmax(scores)) if scores else 0
    else:
        lag = 0
    out = decoded[lag : lag + n]
    return np.pad(out, (0, n - len(out))) if len(out) < n else out


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
