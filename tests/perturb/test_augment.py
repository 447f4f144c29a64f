"""The sweep's distortions as training augmentation: faces (augment=robust), clips, whole images, audio."""

from __future__ import annotations

import numpy as np
import pytest
from hydra.utils import instantiate

from dfdet.perturb.augment import AudioDistortionAugment, DistortionAugment
from dfdet.transforms.images import build_image_train_transform
from dfdet.transforms.presets import build_train_transform, seed_worker  # noqa: F401 - workers reseed it


def _image(seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((72, 72, 3)) * 255).astype(np.uint8)


def test_augment_robust_config_distorts_reproducibly(tiny_cfg) -> None:
    cfg = tiny_cfg("augment=robust", "data.train_transform.distortions.distortions=[GB,JPEG]",
                   "data.train_transform.distortions.p=1.0")  # fmt: skip
    first, second = instantiate(cfg.data.train_transform), instantiate(cfg.data.train_transform)
    image = _image()
    a = [first(image) for _ in range(4)]
    b = [second(image) for _ in range(4)]
    assert all(np.array_equal(x.numpy(), y.numpy()) for x, y in zip(a, b, strict=True))  # same seed, same draws
    assert a[0].shape == (3, cfg.model.input.size, cfg.model.input.size)
    plain = instantiate(tiny_cfg("augment=none").data.train_transform)(image)
    assert not any(np.allclose(x.numpy(), plain.numpy()) for x in a)  # every item distorted (p = 1)
    first.set_random_seed(5)
    second.set_random_seed(6)
    assert not np.array_equal(first(image).numpy(), second(image).numpy())  # workers draw differently


def test_clip_frames_share_the_distortion() -> None:
    aug = DistortionAugment(["CS"], levels=(5, 5), p=1.0)
    transform = build_train_transform("none", 32, (0.5,) * 3, (0.5,) * 3, seed=0, distortions=aug)
    clip = transform.clip(np.stack([_image(1)] * 3))
    assert clip.shape == (3, 3, 32, 32)
    grey = clip[0].numpy()
    assert np.allclose(grey[0], grey[1], atol=0.02) and np.allclose(clip[0].numpy(), clip[2].numpy())


def test_whole_image_training_takes_distortions() -> None:
    aug = DistortionAugment(["resize"], levels=(2, 2), p=1.0)  # 2x upscale before the random crop
    transform = build_image_train_transform(32, (0.5,) * 3, (0.5,) * 3, seed=0, distortions=aug)
    assert transform(_image()).shape == (3, 32, 32)


def test_audio_distortion_augment_and_bad_names() -> None:
    t = np.arange(8000) / 16000
    wave = (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    aug = AudioDistortionAugment(gain_db=(0.0, 0.0), sample_rate=16000, distortions=["mp3", "packet_loss"],
                                 levels=(4, 4), distortion_p=1.0)  # fmt: skip
    outs = [aug(wave, np.random.default_rng(s)) for s in range(4)]
    assert all(o.shape == wave.shape and o.dtype == np.float32 for o in outs)
    assert all(not np.allclose(o, wave, atol=1e-3) for o in outs)
    assert np.array_equal(aug(wave, np.random.default_rng(0)), outs[0])
    with pytest.raises(ValueError, match="not audio distortions"):
        AudioDistortionAugment(distortions=["GB"])
    with pytest.raises(ValueError, match="not image distortions"):
        DistortionAugment(["mp3"])
