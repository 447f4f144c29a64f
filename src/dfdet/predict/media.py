"""What a file is, decided from its first bytes (magic numbers), never from its name; size limits before decoding.

The same sniffing decides the route of a file in ``predict.py`` and of an upload in the HTTP API, and gives the
suffix under which the file is decoded (the decoders in :mod:`dfdet.preprocess.video` choose by suffix).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from dfdet.predict.errors import MediaError

SNIFF_BYTES = 64  # enough for every signature below


@dataclass(frozen=True)
class MediaType:
    """A recognised file type.

    Attributes:
        kind: ``image``, ``video`` or ``audio``.
        name: short name (``jpeg``, ``mp4``, ...).
        mime: the media type reported to clients.
        suffix: the suffix the file is decoded under.
    """

    kind: str
    name: str
    mime: str
    suffix: str


JPEG = MediaType("image", "jpeg", "image/jpeg", ".jpg")
PNG = MediaType("image", "png", "image/png", ".png")
WEBP = MediaType("image", "webp", "image/webp", ".webp")
MP4 = MediaType("video", "mp4", "video/mp4", ".mp4")
MOV = MediaType("video", "mov", "video/quicktime", ".mov")
M4A = MediaType("audio", "m4a", "audio/mp4", ".m4a")
MATROSKA = MediaType("video", "matroska", "video/x-matroska", ".mkv")  # also WebM (a Matroska profile)
AVI = MediaType("video", "avi", "video/x-msvideo", ".avi")
WAV = MediaType("audio", "wav", "audio/wav", ".wav")
FLAC = MediaType("audio", "flac", "audio/flac", ".flac")
MP3 = MediaType("audio", "mp3", "audio/mpeg", ".mp3")
OGG = MediaType("audio", "ogg", "audio/ogg", ".ogg")
# GIFs are decoded by PyAV: an animated one is a video, a still one (one frame) an image; see :func:`gif_type`.
GIF = MediaType("video", "gif", "image/gif", ".gif")
GIF_STILL = MediaType("image", "gif", "image/gif", ".gif")
SUPPORTED = "JPEG, PNG, WebP, GIF, MP4/MOV, WebM/Matroska, AVI, WAV, FLAC, MP3, OGG"
# ISO base media ("ftyp") major brands that hold sound only; every other brand is treated as video.
_AUDIO_BRANDS = (b"M4A ", b"M4B ", b"M4P ", b"F4A ")


def _mp3_frame_sync(head: bytes) -> bool:
    """An MPEG audio frame header: 11 sync bits, a valid version, layer III, and a valid bitrate and rate index."""
    if len(head) < 4 or head[0] != 0xFF or (head[1] & 0xE0) != 0xE0:
        return False
    version, layer = (head[1] >> 3) & 0x3, (head[1] >> 1) & 0x3
    bitrate, rate = head[2] >> 4, (head[2] >> 2) & 0x3
    return version != 0x1 and layer == 0x1 and bitrate not in (0x0, 0xF) and rate != 0x3


def sniff(head: bytes) -> MediaType | None:
    """The type of a file from its first bytes (at least :data:`SNIFF_BYTES` when the file is that long).

    Args:
        head: the file's first bytes.

    Returns:
        The recognised type, or None for anything else (text, archives, executables, pickles, ...).
    """
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith((b"GIF87a", b"GIF89a")):
        return GIF  # animated until :func:`gif_type` counts its frames
    if head.startswith(b"RIFF") and len(head) >= 12:
        return {b"WEBP": WEBP, b"WAVE": WAV, b"AVI ": AVI}.get(head[8:12])
    if len(head) >= 12 and head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _AUDIO_BRANDS:
            return M4A
        return MOV if brand == b"qt  " else MP4
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return MATROSKA
    if head.startswith(b"fLaC"):
        return FLAC
    if head.startswith(b"OggS"):
        return OGG
    if head.startswith(b"ID3") or _mp3_frame_sync(head):
        return MP3
    return None


def sniff_file(path: str | os.PathLike) -> MediaType | None:
    """:func:`sniff` on a file's first bytes."""
    with open(path, "rb") as f:
        return sniff(f.read(SNIFF_BYTES))


def gif_type(path: str | os.PathLike) -> MediaType:
    """:data:`GIF_STILL` for a GIF of one frame, :data:`GIF` (a video) for an animated one; frames are counted from
    the demuxed packets, without decoding.

    Raises:
        MediaError: ``unreadable`` when PyAV cannot open it, ``no_video_stream`` when it holds no frame.
    """
    import av

    try:
        with av.open(os.fspath(path)) as container:
            if not container.streams.video:
                raise MediaError("no_video_stream", "the GIF holds no image")
            frames = 0
            for packet in container.demux(container.streams.video[0]):
                frames += packet.size > 0
                if frames > 1:
                    return GIF
    except MediaError:
        raise
    except Exception as exc:  # noqa: BLE001 - any demuxer failure on an untrusted file means "unreadable"
        raise MediaError("unreadable", f"unreadable GIF ({type(exc).__name__})") from exc
    if not frames:
        raise MediaError("unreadable", "the GIF holds no frame")
    return GIF_STILL


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """``(width, height)`` from an image's header, without decoding its pixels.

    Raises:
        MediaError: ``unreadable`` when the header cannot be parsed.
    """
    from PIL import Image

    try:
        with Image.open(path) as img:  # lazy: reads the header only
            return img.size
    except Image.DecompressionBombError as exc:  # PIL's own limit (2 x Image.MAX_IMAGE_PIXELS) in the header
        raise MediaError(
            "image_too_large", f"the image announces too many pixels (a decompression bomb): {exc}"
        ) from exc
    except Exception as exc:  # noqa: BLE001 - any parser failure on an untrusted file means "unreadable"
        raise MediaError("unreadable", f"unreadable image ({type(exc).__name__})") from exc


def video_size(path: str | os.PathLike) -> tuple[int, int]:
    """``(width, height)`` of a video's first video stream, from the container and codec headers.

    Raises:
        MediaError: ``unreadable`` for a file PyAV cannot open, ``no_video_stream`` for one without video.
    """
    import av

    try:
        with av.open(os.fspath(path)) as container:
            if not container.streams.video:
                raise MediaError("no_video_stream", "the file has no video stream")
            ctx = container.streams.video[0].codec_context
            return int(ctx.width), int(ctx.height)
    except MediaError:
        raise
    except Exception as exc:  # noqa: BLE001 - any demuxer failure on an untrusted file means "unreadable"
        raise MediaError("unreadable", f"unreadable video ({type(exc).__name__})") from exc


def check_pixels(path: str | os.PathLike, media: MediaType, max_pixels: int) -> tuple[int, int] | None:
    """Refuses images and videos whose frames have more than ``max_pixels`` pixels, before anything is decoded.

    A decompression bomb (a small file announcing a huge image) is stopped here, from its header.

    Returns:
        The frame's ``(width, height)``; None for audio.

    Raises:
        MediaError: ``image_too_large``, or ``unreadable`` when the header cannot be read.
    """
    if media.kind == "audio":
        return None
    width, height = image_size(path) if media.kind == "image" else video_size(path)
    if width * height > max_pixels:
        raise MediaError(
            "image_too_large",
            f"the {media.kind} is {width} x {height} = {width * height} pixels, more than the limit of {max_pixels}",
        )
    return width, height
