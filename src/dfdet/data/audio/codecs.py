"""Lossy audio codecs through PyAV (FFmpeg): a waveform encoded and decoded in memory, time-aligned to the input.

The one place that runs audio codecs, for training augmentation (:class:`~dfdet.transforms.audio.CodecAugment`) and
for robustness checks: MP3 (LAME), AAC (FFmpeg's encoder, ADTS stream) and Opus (libopus in Ogg, at 48 kHz as Opus
requires; resampled there and back by FFmpeg). Encoders delay the signal (priming samples, filter delay); the
decoded waveform is shifted back by the lag of the largest cross-correlation within ``max_lag`` samples, then cut
or zero-padded to the input's length.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from dfdet.errors import ConfigValueError

# codec -> (container format, encoder, rate the encoder runs at (None: the input's))
CODECS: dict[str, tuple[str, str, int | None]] = {
    "mp3": ("mp3", "libmp3lame", None),
    "aac": ("adts", "aac", None),
    "opus": ("ogg", "libopus", 48000),
}


def _encode(x: np.ndarray, sample_rate: int, codec: str, bitrate: int) -> bytes:
    import av

    fmt, encoder, rate = CODECS[codec]
    rate = rate or sample_rate
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=fmt) as container:
        stream: Any = container.add_stream(encoder, rate=rate, layout="mono")  # an AudioStream
        stream.bit_rate = int(bitrate)
        resampler = av.AudioResampler(format=stream.codec_context.format.name, layout="mono", rate=rate)
        frame = av.AudioFrame.from_ndarray(x.astype(np.float32)[None], format="flt", layout="mono")
        frame.sample_rate = sample_rate
        for chunk in [*resampler.resample(frame), *resampler.resample(None)]:
            chunk.pts = None
            for packet in stream.encode(chunk):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


def _decode(data: bytes, sample_rate: int) -> np.ndarray:
    import av

    chunks: list[np.ndarray] = []
    with av.open(io.BytesIO(data), mode="r") as container:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        for frame in container.decode(audio=0):
            chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
        chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)


def _align(y: np.ndarray, x: np.ndarray, max_lag: int) -> np.ndarray:
    """``y`` shifted left by its delay against ``x`` (0..max_lag samples), cut or zero-padded to ``len(x)``."""
    n = min(len(x), len(y)) - max_lag
    if n > 256:
        ref = x[: min(n, 8 * max_lag)]
        scores = [float(np.dot(ref, y[lag : lag + len(ref)])) for lag in range(max_lag + 1)]
        y = y[int(np.argmax(scores)) :]
    out = np.zeros(len(x), dtype=np.float32)
    out[: min(len(x), len(y))] = y[: len(x)]
    return out


def codec_roundtrip(x: np.ndarray, sample_rate: int, codec: str, bitrate: int, max_lag: int = 4096) -> np.ndarray:
    """``x`` through an encoder and back.

    Args:
        x: (T,) float waveform in [-1, 1].
        sample_rate: of ``x``, Hz (also of the result).
        codec: ``mp3``, ``aac`` or ``opus``.
        bitrate: bits per second (e.g. 16000-128000; each encoder rounds to what it supports).
        max_lag: the largest encoder delay searched for, in samples.

    Returns:
        (T,) float32, time-aligned with ``x``.

    Raises:
        ConfigValueError: an unknown codec.
    """
    if codec not in CODECS:
        raise ConfigValueError(f"unknown audio codec '{codec}': choose one of {', '.join(CODECS)}")
    y = _decode(_encode(np.clip(x, -1.0, 1.0), sample_rate, codec, bitrate), sample_rate)
    return _align(y, x.astype(np.float32), max_lag)
