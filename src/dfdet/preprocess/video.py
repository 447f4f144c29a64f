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
    """Reads ``count`` uniformly sampled frames of a video, of a folder of frames, or an image as a one-frame video.

    Args:
        path: video or image file, or a folder whose images (:data:`IMAGE_EXTENSIONS`, sorted by name) are the
            frames of one video (releases of face sequences: WildDeepfake, DF40).
        count: frames to sample.
        seek_gap: seek instead of decoding when the next sampled frame is more than this many frames ahead;
            None always decodes sequentially (exact for variable frame rates).
        timeout_s: give up on a video whose reading takes longer (checked between packets and frames, so one
            FFmpeg call that never returns is not interrupted); None: no limit.

    Returns:
        ``(indices (T,) int64, frames [T x (H, W, 3) uint8 RGB], number of frames in the video)``; T is below
        ``min(count, frames)`` when the container announces more frames than it holds or its data breaks off
        (truncated files): the frames read until then are returned, and the caller reports the shortfall.

    Raises:
        DecodeError: unreadable, empty or without video stream.
    """
    path = Path(path)
    if path.is_dir():
        return _read_frame_folder(path, count)
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


def frame_files(folder: Path) -> list[Path]:
    """The images directly in ``folder``, sorted by name (frame order)."""
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())


def _read_frame_folder(folder: Path, count: int) -> tuple[np.ndarray, list, int]:
    """``count`` uniformly sampled frames of a folder of frame images; an unreadable frame is skipped (the caller
    reports the shortfall), a folder without any readable frame raises :class:`DecodeError`."""
    files = frame_files(folder)
    if not files:
        raise DecodeError("no frame images in the folder")
    indices, frames = [], []
    for i in sample_indices(len(files), count):
        try:
            frames.append(read_image(files[i]))
        except DecodeError:
            continue
        indices.append(i)
    if not frames:
        raise DecodeError("no readable frame images in the folder")
    return np.array(indices, np.int64), frames, len(files)


def read_image(path: str | os.PathLike) -> np.ndarray:
    """An image file as RGB uint8 (H, W, 3), EXIF orientation applied; raises :class:`DecodeError`."""
    try:
        with Image.open(path) as img:
            return rgb_array(ImageOps.exif_transpose(img))
    except Exception as exc:  # noqa: BLE001 - any reader failure on an untrusted file means "unreadable"
        raise DecodeError(f"unreadable image ({type(exc).__name__}: {exc})") from exc


HIGH_DEPTH_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")  # 16-bit greyscale PNGs open in one of these


def rgb_array(img: Image.Image) -> np.ndarray:
    """A PIL image as RGB uint8 (H, W, 3); 16-bit greyscale is scaled from 16 to 8 bits.

    PIL's ``convert("RGB")`` clips 16-bit greyscale at 255, which turns a photo white. PNG stores every sample at
    its full bit depth (a 12-bit source is scaled to 16 bits, per the PNG specification), so dividing by
    ``65535 / 255`` keeps the picture; values beyond 16 bits (32-bit integer images) are clipped.

    Example:
        >>> rgb_array(Image.fromarray(np.array([[0, 32896, 65535]], np.uint16))).tolist()
        [[[0, 0, 0], [128, 128, 128], [255, 255, 255]]]
    """
    if img.mode not in HIGH_DEPTH_MODES:
        return np.asarray(img.convert("RGB"))
    grey = np.asarray(img).astype(np.float32) * (255.0 / 65535.0)
    grey = np.clip(np.rint(grey), 0, 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=-1)


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
    """``(index, RGB frame)`` for each wanted index that exists; indices counted from the first frame.

    Data that breaks off after some frames were read (a truncated or damaged file) ends the reading there: the
    frames read so far are returned (the caller says how many of those asked for it got). With none read, the
    decoder's error is raised.
    """
    clock = _FrameClock.of(stream) if seek_gap is not None else None
    out: list[tuple[int, np.ndarray]] = []
    frames: Iterator[av.VideoFrame] = container.decode(stream)
    position = -1  # index of the last decoded frame: counted until the first seek, from timestamps after it
    seeked = False
    for target in (int(t) for t in wanted):
        try:
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
        except av.error.FFmpegError:
            if not out:
                raise
            break  # damaged data after the frames already read: a partial read, reported by the caller
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
