"""The sweep's distortions as training augmentation, so a detector can be trained against what it is evaluated on.

- :class:`DistortionAugment`: an albumentations transform for face crops, clips and whole images: with
  probability ``p`` one distortion of a list at a random level (DeeperForensics-1.0's seven, real JPEG, resize,
  the social-media chain; H.264 through PyAV). Its randomness comes from albumentations' own seeded generator, so
  :func:`~dfdet.transforms.presets.seed_worker` gives each dataloader worker its own reproducible stream; a clip's
  frames share the distortion and level (``VC`` encodes the clip as one stream).
- :class:`AudioDistortionAugment`: the audio distortions (MP3/AAC/Opus through PyAV, 8 kHz band, noise, packet
  loss) after the random gain and noise of :class:`~dfdet.transforms.audio.AudioAugment`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import albumentations as A
import numpy as np

from dfdet.perturb.registry import DEFAULTS, DISTORTIONS, Setting
from dfdet.transforms.audio import AudioAugment


def _check(names: Sequence[str], kind: str, levels: Sequence[int]) -> tuple[tuple[str, ...], tuple[int, int]]:
    names = tuple(names)
    wrong = [n for n in names if n not in DISTORTIONS or DISTORTIONS[n].kind != kind]
    if wrong or not names:
        choices = [n for n, d in DISTORTIONS.items() if d.kind == kind]
        raise ValueError(f"distortions {wrong or '[]'} are not {kind} distortions; choose among {choices}")
    low, high = (int(v) for v in levels)
    if not 1 <= low <= high:
        raise ValueError(f"distortion levels must be a range [low, high] with 1 <= low <= high, got {list(levels)}")
    return names, (low, high)


def _draw(names: Sequence[str], levels: tuple[int, int], rng: np.random.Generator) -> Setting:
    """One distortion of ``names`` and one of its levels within ``levels`` (clamped to the levels it has)."""
    name = names[int(rng.integers(len(names)))]
    params = DISTORTIONS[name].levels
    level = int(rng.integers(min(levels[0], len(params)), min(levels[1], len(params)) + 1))
    return Setting(name, level, float(params[level - 1]))


class DistortionAugment(A.ImageOnlyTransform):
    """With probability ``p``, one of ``distortions`` at a level drawn uniformly in ``levels`` (1-based).

    Args:
        distortions: image distortion names (:data:`~dfdet.perturb.registry.DISTORTIONS`); None: the sweep's
            defaults (DeeperForensics-1.0's seven, resize, social).
        levels: inclusive range of levels, e.g. ``(1, 3)`` for the milder three.
        p: probability of distorting an image.
    """

    def __init__(self, distortions: Sequence[str] | None = None, levels: Sequence[int] = (1, 5), p: float = 0.5):
        super().__init__(p=p)
        self.distortions, self.levels = _check(DEFAULTS["image"] if distortions is None else distortions, "image",
                                               levels)  # fmt: skip

    def get_params(self) -> dict[str, Any]:
        setting = _draw(self.distortions, self.levels, self.random_generator)
        return {"setting": setting, "seed": int(self.random_generator.integers(2**63))}

    def apply(self, img: np.ndarray, setting: Setting, seed: int, **params: Any) -> np.ndarray:
        return setting.apply(img, np.random.default_rng(seed))

    def apply_to_images(self, images: np.ndarray, setting: Setting, seed: int, **params: Any) -> np.ndarray:
        return setting.apply(np.asarray(images), np.random.default_rng(seed))

    def get_transform_init_args_names(self) -> tuple[str, ...]:
        return ("distortions", "levels")


@dataclass
class AudioDistortionAugment(AudioAugment):
    """:class:`~dfdet.transforms.audio.AudioAugment`, then with probability ``distortion_p`` one audio distortion at
    a level drawn in ``levels`` (codecs through PyAV: see :func:`dfdet.data.audio.codecs.codec_roundtrip`).

    Args:
        sample_rate: the waveform's rate (the model's ``input.sample_rate``).
        distortions: audio distortion names; None: mp3, aac, opus, narrowband, noise, packet_loss.
        levels: inclusive range of levels (1-based).
        distortion_p: probability of distorting a window.
    """

    sample_rate: int = 16000
    distortions: Sequence[str] | None = None
    levels: Sequence[int] = field(default=(1, 4))
    distortion_p: float = 0.5

    def __post_init__(self) -> None:
        self._names, self._levels = _check(DEFAULTS["audio"] if self.distortions is None else self.distortions,
                                           "audio", self.levels)  # fmt: skip

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        x = super().__call__(x, rng)
        if rng.random() < self.distortion_p:
            x = _draw(self._names, self._levels, rng).apply(x, rng, self.sample_rate)
        return np.clip(x, -1.0, 1.0).astype(np.float32)
