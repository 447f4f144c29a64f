"""Lossy audio codecs through PyAV (FFmpeg): a waveform encoded and decoded in memory, time-aligned to the input.

The one place that runs audio codecs, for training augmentation (:class:`~dfdet.transforms.audio.CodecAugment`,
:class:`~dfdet.perturb.augment.AudioDistortionAugment`) and for the robustness sweeps (:mod:`dfdet.perturb`): MP3
(libmp3lame), AAC (FFmpeg's native encoder, ADTS stream) and Opus (libopus in Ogg). A rate the encoder does not
accept is resampled to the nearest one it does (Opus: 8/12/16/24/48 kHz) and back. Encoders delay the signal
(priming samples, filter delay); the decoded waveform is shifted back by the lag of the largest cross-correlation
within 100 ms, then cut or zero-padded to the input's length.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from dfdet.data.audio.io import resample
from dfdet.errors import ConfigValueError

# codec name -> (FFmpeg encoder, container, the encoder's sample format, rates it accepts (None: any))
CODECS: dict[str, tuple[str, str, str, tuple[int, ...] | None]] = {
    "mp3": ("libmp3lame", "mp3", "fltp", (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)),
    "aac": ("aac", "adts", "fltp", None),
    "opus": ("libopus", "ogg", "flt", (8000, 12000, 16000, 24000, 48000)),
}


def _check(codec: str) -> None:
    if codec not in CODECS:
        raise ConfigValueError(f"unknown audio codec '{codec}': choose one of {', '.join(CODECS)}")


def _encode(wave: np.ndarray, sample_rate: int, codec: str, bitrate: int) -> tuple[bytes, int]:
    import av

    encoder, fmt, sample_fmt, rates = CODECS[codec]
    rate = (
        sample_rate if rates is None or sample_rate in rates else min(r for r in rates if r >= min(sample_rate, 48000))
    )
    data = resample(wave, sample_rate, rate) if rate != sample_rate else wave
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=fmt) as container:
        stream: Any = container.add_stream(encoder, rate=rate)
        stream.bit_rate = int(bitrate)
        stream.layout = "mono"
        stream.format = sample_fmt
        frame = av.AudioFrame.from_ndarray(np.clip(data, -1.0, 1.0).astype(np.float32)[None], format="flt",
                                           layout="mono")  # fmt: skip
        frame.sample_rate = rate
        resampler = av.AudioResampler(format=sample_fmt, layout="mono", rate=rate, frame_size=stream.frame_size or None)
        for chunk in [*resampler.resample(frame), *resampler.resample(None)]:
            for packet in stream.encode(chunk):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue(), rate


def encoded_size(wave: np.ndarray, sample_rate: int, codec: str, bitrate: int) -> int:
    """Bytes of ``wave`` encoded with ``codec`` at ``bitrate`` bit/s (what :func:`codec_roundtrip` decodes)."""
    _check(codec)
    return len(_encode(wave, sample_rate, codec, bitrate)[0])


def codec_roundtrip(wave: np.ndarray, sample_rate: int, codec: str, bitrate: int) -> np.ndarray:
    """``wave`` through an encoder and back.

    Args:
        wave: (T,) float waveform in [-1, 1].
        sample_rate: of ``wave``, Hz (also of the result).
        codec: ``mp3``, ``aac`` or ``opus``.
        bitrate: bits per second (e.g. 8000-128000; each encoder rounds to what it supports).

    Returns:
        (T,) float32, time-aligned with ``wave``.

    Raises:
        ConfigValueError: an unknown codec.
    """
    import av

    _check(codec)
    data, rate = _encode(wave, sample_rate, codec, bitrate)
    resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
    chunks = []
    with av.open(io.BytesIO(data), mode="r") as container:
        for frame in container.decode(audio=0):
            chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
    chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    decoded = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    decoded = resample(decoded, rate, sample_rate) if rate != sample_rate else decoded
    return _align(decoded, np.asarray(wave, np.float32), max_lag=sample_rate // 10)


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
    out = decoded[lag : lag + n].astype(np.float32)
    return np.pad(out, (0, n - len(out))) if len(out) < n else out
