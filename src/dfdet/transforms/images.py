"""Training transforms of whole-image models (AI-generated image detection): random crops at native resolution.

Resizing erases the up-sampling traces that generators leave, so by default nothing is resized: the image is padded
by reflection when smaller than the crop, then a random ``size`` x ``size`` crop is taken, as CNNSpot (Wang et al.,
CVPR 2020) and its successors train. Evaluation and prediction take the deterministic crops of
:mod:`dfdet.transforms.crops` from the same geometry.
"""

from __future__ import annotations

from collections.abc import Sequence

import albumentations as A
import cv2
from albumentations.pytorch import ToTensorV2

from dfdet.transforms.presets import AlbumentationsTransform


def _augmentations(preset: str) -> list[A.BasicTransform]:
    """``flip``: horizontal flips only. ``cnnspot``: CNNSpot's "Blur+JPEG (0.5)": Gaussian blur with sigma in
    [0, 3] and JPEG re-compression at quality 30-100, each with probability 0.5, before cropping (Wang et al.,
    CVPR 2020, Sec. 4.2)."""
    if preset == "flip":
        return []
    if preset == "cnnspot":
        return [
            A.GaussianBlur(blur_limit=0, sigma_limit=(0.1, 3.0), p=0.5),
            A.ImageCompression(quality_range=(30, 100), p=0.5),
        ]
    raise ValueError(f"Unknown whole-image augmentation preset '{preset}'; choose flip or cnnspot")


def build_image_train_transform(
    size: int,
    mean: Sequence[float],
    std: Sequence[float],
    resize: int | None = None,
    preset: str = "flip",
    seed: int | None = None,
    distortions: A.BasicTransform | None = None,
) -> AlbumentationsTransform:
    """Training pipeline of whole images: (augmentation), (resize), reflection padding to ``size``, a random crop,
    a horizontal flip, normalisation.

    Args:
        size: crop side (the model's ``input.size``).
        mean, std: per-channel normalisation of values scaled to [0, 1].
        resize: shorter side resized to this first (the model's ``input.resize``); None keeps the resolution.
        preset: ``flip`` or ``cnnspot`` (see :func:`_augmentations`).
        seed: seed of albumentations' own RNG (workers reseed from the run seed).
        distortions: the evaluation sweep's distortions as augmentation, applied first to the whole image
            (:class:`dfdet.perturb.augment.DistortionAugment`); None: none.
    """
    steps: list[A.BasicTransform] = ([distortions] if distortions is not None else []) + _augmentations(preset)
    if resize is not None:
        steps.append(A.SmallestMaxSize(max_size=int(resize), interpolation=cv2.INTER_AREA))
    steps += [
        A.PadIfNeeded(min_height=size, min_width=size, border_mode=cv2.BORDER_REFLECT_101),
        A.RandomCrop(height=size, width=size),
        A.HorizontalFlip(p=0.5),
        A.Normalize(mean=tuple(mean), std=tuple(std), max_pixel_value=255.0),
        ToTensorV2(),
    ]
    return AlbumentationsTransform(A.Compose(steps, seed=seed), 0.0, seed)
