"""The distortions by name, their levels, and the settings (distortion, level) that a sweep or an augmentation uses.

A :class:`Setting` applies one distortion at one level to decoded media: an RGB image (H, W, 3) uint8, the frames
of a clip (T, H, W, 3) uint8, or a mono waveform (N,) float32 with its rate. Image distortions apply to each frame
of a clip; ``VC`` encodes a clip as one H.264 stream (a single image as a one-frame stream).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from dfdet.data.audio.codecs import codec_roundtrip
from dfdet.perturb import audio as audio_ops
from dfdet.perturb import images as image_ops
from dfdet.perturb.video import h264_roundtrip


@dataclass(frozen=True)
class Distortion:
    """One distortion: what it applies to, its levels (parameters, mildest first) and what the parameter means."""

    name: str
    kind: str  # "image" (faces, whole images, clip frames) or "audio"
    levels: tuple[float, ...]
    unit: str
    fn: Callable[..., np.ndarray]
    random: bool = False
    description: str = ""


def _vc(media: np.ndarray, crf: float, rng: np.random.Generator | None = None) -> np.ndarray:
    return h264_roundtrip(media, crf)


def _source_only(media: np.ndarray, crf: float, rng: np.random.Generator | None = None) -> np.ndarray:
    raise ValueError("H264 re-encodes source videos (perturb.mode=faithful, dfdet.perturb.faithful); on stored "
                     "crops use VC")  # fmt: skip


_I, _A = "image", "audio"
DISTORTIONS: dict[str, Distortion] = {
    d.name: d
    for d in (
        Distortion("CS", _I, image_ops.DF_LEVELS["CS"], "chroma factor", image_ops.color_saturation,
                   description="colour saturation (DeeperForensics-1.0)"),
        Distortion("CC", _I, image_ops.DF_LEVELS["CC"], "value factor", image_ops.color_contrast,
                   description="colour contrast (DeeperForensics-1.0)"),
        Distortion("BW", _I, image_ops.DF_LEVELS["BW"], "blocks per 256 px", image_ops.block_wise, random=True,
                   description="block-wise occlusion (DeeperForensics-1.0)"),
        Distortion("GNC", _I, image_ops.DF_LEVELS["GNC"], "noise variance", image_ops.gaussian_noise_color,
                   random=True, description="Gaussian noise in YCbCr (DeeperForensics-1.0)"),
        Distortion("GB", _I, image_ops.DF_LEVELS["GB"], "kernel side", image_ops.gaussian_blur,
                   description="Gaussian blur (DeeperForensics-1.0)"),
        Distortion("JPEG", _I, image_ops.DF_LEVELS["JPEG"], "down-scale factor", image_ops.pixelation,
                   description="DeeperForensics-1.0 'JPEG': down- and up-scaling"),
        Distortion("VC", _I, image_ops.DF_LEVELS["VC"], "H.264 CRF", _vc,
                   description="video compression, H.264 (DeeperForensics-1.0)"),
        Distortion("jpeg_q", _I, (90, 70, 50, 30, 10), "JPEG quality", image_ops.jpeg,
                   description="real JPEG re-encoding"),
        Distortion("resize", _I, (0.5, 2.0), "scale", image_ops.resize, description="resize down or up"),
        Distortion("social", _I, (1.0,), "strength", image_ops.social_media,
                   description="social-media chain: resize, JPEG, sharpen"),
        Distortion("H264", "video", (23, 28, 33, 38, 43), "H.264 CRF", _source_only,
                   description="source video re-encoded (H.264) before cropping"),
        Distortion("mp3", _A, (128, 64, 32, 16), "kbit/s", lambda w, p, sr, rng: codec_roundtrip(
            w, sr, "mp3", int(p * 1000)), description="MP3 (libmp3lame)"),
        Distortion("aac", _A, (128, 64, 32, 16), "kbit/s", lambda w, p, sr, rng: codec_roundtrip(
            w, sr, "aac", int(p * 1000)), description="AAC (FFmpeg)"),
        Distortion("opus", _A, (64, 32, 16, 8), "kbit/s", lambda w, p, sr, rng: codec_roundtrip(
            w, sr, "opus", int(p * 1000)), description="Opus (libopus)"),
        Distortion("narrowband", _A, (8000,), "Hz", lambda w, p, sr, rng: audio_ops.narrowband(w, sr, p),
                   description="resampled to 8 kHz and back"),
        Distortion("noise", _A, (30, 20, 10, 5, 0), "SNR dB", lambda w, p, sr, rng: audio_ops.add_noise(w, p, rng),
                   random=True, description="white noise at an SNR"),
        Distortion("packet_loss", _A, (0.01, 0.05, 0.1, 0.2), "loss rate",
                   lambda w, p, sr, rng: audio_ops.packet_loss(w, sr, p, rng), random=True,
                   description="20 ms packets lost (zeroed)"),
    )
}  # fmt: skip

DEFAULTS: dict[str, tuple[str, ...]] = {
    "image": ("CS", "CC", "BW", "GNC", "GB", "JPEG", "VC", "resize", "social"),
    "audio": ("mp3", "aac", "opus", "narrowband", "noise", "packet_loss"),
}
MODALITY_KIND = {"face": "image", "image": "image", "audio": "audio"}


@dataclass(frozen=True)
class Setting:
    """One distortion at one level (1-based, mildest first) with its parameter."""

    distortion: str
    level: int
    param: float

    @property
    def name(self) -> str:
        return f"{self.distortion}/{self.level}"

    @property
    def uid(self) -> int:
        """A stable number of this setting (seeds its randomness with the item's)."""
        return zlib.crc32(f"{self.distortion}:{self.param!r}".encode())

    def apply(self, media: np.ndarray, rng: np.random.Generator, sample_rate: int | None = None) -> np.ndarray:
        """This distortion applied to ``media``: an image (H, W, 3), frames (T, H, W, 3) or a waveform (N,)."""
        d = DISTORTIONS[self.distortion]
        if d.kind == "audio":
            if sample_rate is None:
                raise ValueError(f"{self.name} distorts sound and needs its sample rate")
            return d.fn(media, self.param, int(sample_rate), rng)
        if media.ndim == 4 and self.distortion != "VC":
            return np.stack([d.fn(frame, self.param, rng) for frame in media])
        return d.fn(media, self.param, rng)


def item_rng(seed: int, setting: Setting, key: int) -> np.random.Generator:
    """The generator of one item under one setting: depends on the seed, the setting and the item only (not on the
    order or the worker that draws it)."""
    return np.random.default_rng([int(seed), setting.uid, int(key)])


def video_settings(crfs: Sequence[float] | None = None) -> list[Setting]:
    """The faithful mode's settings: the source video re-encoded with H.264 at each CRF (None: 23 to 43)."""
    return [Setting("H264", i + 1, float(c)) for i, c in enumerate(crfs or DISTORTIONS["H264"].levels)]


def build_settings(
    modality: str, names: Sequence[str] | None = None, levels: dict[str, Sequence[float]] | Any = None
) -> list[Setting]:
    """The settings of a sweep: each named distortion (None: the modality's defaults, :data:`DEFAULTS`) at each of
    its levels (or the parameters ``levels[name]``).

    Raises:
        ValueError: an unknown distortion, or one that does not apply to the modality (named in the message).
    """
    kind = MODALITY_KIND.get(modality)
    if kind is None:
        raise ValueError(f"perturbation sweeps cover face, image and audio data, not {modality}")
    chosen = list(DEFAULTS[kind] if names is None else names)
    levels = dict(levels or {})
    out = []
    for name in chosen:
        if name not in DISTORTIONS:
            raise ValueError(f"unknown distortion '{name}'; choose among {sorted(DISTORTIONS)}")
        d = DISTORTIONS[name]
        if d.kind != kind:
            same = [n for n, x in DISTORTIONS.items() if x.kind == kind]
            raise ValueError(f"distortion '{name}' applies to {d.kind} data, not {modality} data; {kind}: {same}")
        params = [float(p) for p in levels.get(name, d.levels)]
        out += [Setting(name, i + 1, p) for i, p in enumerate(params)]
    return out
