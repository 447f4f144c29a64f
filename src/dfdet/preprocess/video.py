"""Reading the frames to process: uniform sampling over the whole video, decoded with PyAV; images as one frame.

Only the sampled frames are converted to RGB, decoding stops after the last one, and with ``seek_gap`` the decoder
seeks (to the keyframe before the target) instead of decoding long stretches between two sampled frames.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageOps

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp")


class DecodeError(Exception):
    """A video or image cannot be read (corrupt, empty, no video stream); recorded as a failure, never fatal."""


def sample_indices(num_frames: int, count: int) -> np.ndarray:
    """``count`` frame indices spread uniformly over a video: the centre of each of ``count`` equal segments.

    Never "the first N frames".

    Returns:
        (min(count, num_frames),) int64, strictly increasing; every frame when ``count >= num_frames``.

    Example:
        >>> sample_indices(300, 4).tolist()
        [37, 112, 187, 262]
        >>> sample_indices(3, 5).tolist()
        [0, 1, 2]
    """
    if num_frames <= 0 or count <= 0:
        return np.zeros(0, np.int64)
    if count >= num_frames:
        return np.arange(num_frames, dtype=np.int64)
    return np.floor((np.arange(count) + 0.5) * num_frames / count).astype(np.int64)


class _Deadline:
    """Raises :class:`DecodeError` once ``seconds`` have passed since it was made (None: never)."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self.end = None if seconds is None else time.monotonic() + seconds

    def check(self) -> None:
        if self.end is not None and time.monotonic() > self.end:
            raise DecodeError(f"decoding took longer than {self.seconds:g} s (decode_timeout_s)")


def read_media(
    path: str | os.PathLike, count: int, seek_gap: int | None = None, timeout_s: float | None = None
) -> tuple[np.ndarray, list, int]:
    """Reads ``count`` uniformly sampled frames of a video, or an image as a one-frame video.

    Args:
        path: video or image file.
        count: frames to sample.
        seek_gap: seek instead of decoding when the next sampled frame is more than this many frames ahead;
            None always decodes sequentially (exact for variable frame rates).
        timeout_s: give up on a video whose reading takes longer (checked between packets and frames, so one
            FFmpeg call that never returns is not interrupted); None: no limit.

    Returns:
        ``(indices (T,) int64, frames [T x (H, W, 3) uint8 RGB], number of frames in the video)``; T can be below
        ``count`` when the container announces more frames than it holds.

    Raises:
        DecodeError: unreadable, empty or without video stream.
    """
    path = Path(path)
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        return np.zeros(1, np.int64), [read_image(path)], 1
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise DecodeError("no video stream")
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            deadline = _Deadline(timeout_s)
            total = _count_frames(container, stream, deadline)
            if total == 0:
                raise DecodeError("no frames")
            wanted = sample_indices(total, count)
            got = _decode(container, stream, wanted, seek_gap, deadline)
    except DecodeError:
        raise
    except Exception as exc:  # noqa: BLE001 - any decoder failure on an untrusted file means "unreadable"
        raise DecodeError(f"unreadable ({type(exc).__name__}: {exc})") from exc
    if not got:
        raise DecodeError("no decodable frames")
    return np.array([i for i, _ in got], np.int64), [f for _, f in got], total


def read_image(path: str | os.PathLike) -> np.ndarray:
    """An image file as RGB uint8 (H, W, 3), EXIF orientation applied; raises :class:`DecodeError`."""
    try:
        with Image.open(path) as img:
            return np.asarray(ImageOps.exif_transpose(img).convert("RGB"))
    except Exception as exc:  # noqa: BLE001 - any reader failure on an untrusted file means "unreadable"
        raise DecodeError(f"unreadable image ({type(exc).__name__}: {exc})") from exc


def _count_frames(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream, deadline: _Deadline
) -> int:
    """Frames in the stream: the header's count, else the number of packets (demuxed, not decoded)."""
    if stream.frames > 0:
        return int(stream.frames)
    count = 0
    for packet in container.demux(stream):
        deadline.check()
        count += packet.size > 0
    container.seek(0)
    return count


def _decode(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    wanted: np.ndarray,
    seek_gap: int | None,
    deadline: _Deadline,
) -> list[tuple[int, np.ndarray]]:
    """``(index, RGB frame)`` for each wanted index that exists; indices counted from the first frame."""
    clock = _FrameClock.of(stream) if seek_gap is not None else None
    out: list[tuple[int, np.ndarray]] = []
    frames: Iterator[av.VideoFrame] = container.decode(stream)
    position = -1  # index of the last decoded frame: counted until the first seek, from timestamps after it
    seeked = False
    for target in (int(t) for t in wanted):
        if clock is not None and seek_gap is not None and target - position > seek_gap:
            container.seek(clock.pts(target), stream=stream, backward=True)  # to the keyframe at or before
            frames, position, seeked = container.decode(stream), -1, True
        for frame in frames:
            deadline.check()
            if seeked and clock is not None and frame.pts is not None:
                position = clock.index(frame.pts)
            else:
                position += 1
            if position >= target:
                out.append((position, frame.to_ndarray(format="rgb24")))
                break
        else:
            break  # the video ended before this index
    return out


class _FrameClock:
    """Frame index <-> presentation timestamp of a constant-frame-rate stream."""

    def __init__(self, start: int, time_base: Fraction, rate: Fraction) -> None:
        self.start, self.time_base, self.rate = start, time_base, rate

    @classmethod
    def of(cls, stream: av.video.stream.VideoStream) -> _FrameClock | None:
        rate = stream.average_rate or stream.guessed_rate
        if rate is None or stream.time_base is None:
            return None  # no timing information: decode sequentially
        return cls(stream.start_time or 0, Fraction(stream.time_base), Fraction(rate))

    def index(self, pts: int) -> int:
        return int(round((pts - self.start) * self.time_base * self.rate))

    def pts(self, index: int) -> int:
        return int(self.start + Fraction(index) / self.rate / self.time_base)
