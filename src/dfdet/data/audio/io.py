"""Reading audio: files (soundfile, PyAV for compressed containers), the sound track of videos, resampling.

Everything returns mono float32 waveforms in [-1, 1] at the requested rate. PyAV and soundfile stay behind this
module. A file that cannot be decoded raises :class:`~dfdet.errors.ManifestError` naming it; it is never replaced.
"""

from __future__ import annotations

import os
from math import gcd
from pathlib import Path

import numpy as np
from scipy import signal

from dfdet.errors import DfdetError, ManifestError

AUDIO_EXTENSIONS = (".wav", ".flac", ".mp3", ".m4a", ".aac", ".ogg", ".opus")
_SOUNDFILE_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3")  # libsndfile >= 1.1 reads MP3; m4a/aac/opus go to PyAV


class NoAudioTrackError(DfdetError):
    """A video (or container) has no audio stream."""


def resample(x: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Polyphase resampling (``scipy.signal.resample_poly``, Kaiser-windowed anti-aliasing filter).

    Args:
        x: waveform (T,) or (T, C).
        orig_sr, target_sr: rates in Hz.

    Returns:
        Float32 waveform with ``ceil(T * target_sr / orig_sr)`` samples along axis 0.
    """
    if orig_sr == target_sr:
        return np.asarray(x, dtype=np.float32)
    g = gcd(int(orig_sr), int(target_sr))
    return signal.resample_poly(x, target_sr // g, orig_sr // g, axis=0).astype(np.float32)


def _decode_av(path: str, sample_rate: int | None) -> tuple[np.ndarray, int]:
    """First audio stream of any container PyAV opens, mixed to mono; resampled by FFmpeg when ``sample_rate``."""
    import av

    with av.open(path) as container:
        if not container.streams.audio:
            raise NoAudioTrackError(f"{path} has no audio track")
        stream = container.streams.audio[0]
        rate = int(sample_rate or stream.rate or stream.codec_context.sample_rate)
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        chunks = []
        for frame in container.decode(stream):
            chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
        chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]  # flush the resampler
    wave = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
    return wave.astype(np.float32), rate


def load_audio(path: str | os.PathLike, sample_rate: int | None = 16000) -> np.ndarray:
    """Decodes an audio file to a mono float32 waveform.

    WAV, FLAC, OGG and MP3 are read with soundfile; M4A/AAC/Opus (and anything soundfile rejects) with PyAV.
    Channels are averaged; other rates are resampled to ``sample_rate`` (polyphase).

    Args:
        path: the file.
        sample_rate: target rate in Hz; None keeps the file's rate.

    Returns:
        Waveform (T,) float32.

    Raises:
        ManifestError: the file is missing or cannot be decoded (names the file).
    """
    path = str(path)
    if not os.path.isfile(path):
        raise ManifestError(f"Audio file not found: {path}")
    try:
        if Path(path).suffix.lower() in _SOUNDFILE_EXTENSIONS:
            import soundfile as sf

            try:
                data, rate = sf.read(path, dtype="float32", always_2d=True)
                wave = data.mean(axis=1)
            except sf.LibsndfileError:
                wave, rate = _decode_av(path, None)
        else:
            wave, rate = _decode_av(path, None)
    except NoAudioTrackError as exc:
        raise ManifestError(str(exc)) from exc
    except Exception as exc:  # noqa: BLE001 - any decoder failure means an unreadable file
        raise ManifestError(f"Cannot read audio {path} ({type(exc).__name__}: {exc})") from exc
    if wave.size == 0:
        raise ManifestError(f"Audio file {path} holds no samples")
    return resample(wave, rate, sample_rate) if sample_rate else wave


def extract_audio_track(path: str | os.PathLike, sample_rate: int = 16000) -> np.ndarray:
    """The sound track of a video (its first audio stream), mono, resampled to ``sample_rate`` by FFmpeg.

    Args:
        path: a video file (mp4, avi, mkv, ...).
        sample_rate: target rate in Hz.

    Returns:
        Waveform (T,) float32.

    Raises:
        NoAudioTrackError: the video has no audio stream, or one without samples.
        ManifestError: the file is missing or unreadable.
    """
    path = str(path)
    if not os.path.isfile(path):
        raise ManifestError(f"Video file not found: {path}")
    try:
        wave = _decode_av(path, sample_rate)[0]
    except NoAudioTrackError:
        raise
    except Exception as exc:  # noqa: BLE001 - any decoder failure means an unreadable file
        raise ManifestError(f"Cannot read the audio track of {path} ({type(exc).__name__}: {exc})") from exc
    if wave.size == 0:
        raise NoAudioTrackError(f"{path} has an audio stream without samples")
    return wave


def video_frame_rate(path: str | os.PathLike) -> float:
    """Frames per second of a video's first video stream (its average rate, else FFmpeg's guess).

    Raises:
        ManifestError: the file is missing, unreadable, or has no video stream with a rate.
    """
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0] if container.streams.video else None
            rate = (stream.average_rate or stream.guessed_rate) if stream is not None else None
    except Exception as exc:  # noqa: BLE001 - any demuxer failure means an unreadable file
        raise ManifestError(f"Cannot read the video {path} ({type(exc).__name__}: {exc})") from exc
    if not rate:
        raise ManifestError(f"{path} has no video stream with a frame rate")
    return float(rate)
