"""Augmentation presets over albumentations 2.x, returning callables ``image (H, W, 3) uint8 -> tensor (3, S, S)``.

albumentations keeps its own RNG: pipelines are seeded from the config, and :func:`seed_worker` reseeds them in each
DataLoader worker from ``torch.initial_seed()`` (which Lightning/PyTorch derive from the global seed), so workers
draw different but reproducible streams.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import albumentations as A
import cv2
import numpy as np
import torch
from albumentations.pytorch import ToTensorV2

from dfdet.transforms.cutout import face_part_cutout

Transform = Callable[[np.ndarray], torch.Tensor]


def _light() -> list[A.BasicTransform]:
    return [
        A.HorizontalFlip(p=0.5),
        A.RandomBrightnessContrast(brightness_limit=0.1, contrast_limit=0.1, p=0.5),
    ]


def _heavy() -> list[A.BasicTransform]:
    """In the spirit of the DFDC winner (Seferbekov): compression, noise, blur, flips, colour, downscale, cut-outs."""
    return [
        A.ImageCompression(quality_range=(60, 100), p=0.5),
        A.GaussNoise(std_range=(0.01, 0.05), p=0.1),
        A.GaussianBlur(blur_limit=(3, 5), p=0.05),
        A.HorizontalFlip(p=0.5),
        A.OneOf([A.RandomBrightnessContrast(), A.HueSaturationValue()], p=0.5),  # FancyPCA: 7-50 ms/crop, left out
        A.ToGray(p=0.1),
        A.Downscale(scale_range=(0.5, 0.9), p=0.1),
        A.Affine(
            scale=(0.9, 1.1), translate_percent=(-0.05, 0.05), rotate=(-10, 10), border_mode=cv2.BORDER_CONSTANT, p=0.3
        ),
        A.CoarseDropout(num_holes_range=(1, 3), hole_height_range=(0.1, 0.25), hole_width_range=(0.1, 0.25), p=0.2),
    ]


def _robust() -> list[A.BasicTransform]:
    """``light`` plus, with probability 0.5, one of the evaluation sweep's distortions at a random level
    (:class:`dfdet.perturb.augment.DistortionAugment`, docs/robustness.md)."""
    from dfdet.perturb.augment import DistortionAugment  # the perturbation package imports the data package

    return [DistortionAugment(), *_light()]


PRESETS: dict[str, Callable[[], list[A.BasicTransform]]] = {
    "none": list,
    "light": _light,
    "heavy": _heavy,
    "robust": _robust,
}


class AlbumentationsTransform:
    """Wraps an ``A.Compose`` so that calling it maps an RGB uint8 array to a normalised float tensor."""

    def __init__(self, pipeline: A.Compose, face_cutout_p: float = 0.0, seed: int | None = None) -> None:
        self.pipeline = pipeline
        self.face_cutout_p = face_cutout_p
        self.rng = np.random.default_rng(seed)

    def __call__(self, image: np.ndarray, landmarks: np.ndarray | None = None) -> torch.Tensor:
        """Args: image (H, W, 3) uint8; landmarks: optional 5 points in its pixels (for face-part cut-outs)."""
        if landmarks is not None and self.face_cutout_p > 0 and self.rng.uniform() < self.face_cutout_p:
            image = face_part_cutout(image, landmarks, self.rng)
        return self.pipeline(image=image)["image"]

    def clip(self, frames: np.ndarray) -> torch.Tensor:
        """Transforms the frames (T, H, W, 3) of a clip with the same random parameters; returns (T, 3, S, S)."""
        return self.pipeline(images=frames)["images"]

    def set_random_seed(self, seed: int) -> None:
        self.pipeline.set_random_seed(seed)
        self.rng = np.random.default_rng(seed)


def _compose(
    augs: list[A.BasicTransform],
    image_size: int,
    mean: Sequence[float],
    std: Sequence[float],
    seed: int | None,
    face_cutout_p: float = 0.0,
) -> AlbumentationsTransform:
    tail = [
        A.Resize(image_size, image_size, interpolation=cv2.INTER_AREA),
        A.Normalize(mean=tuple(mean), std=tuple(std), max_pixel_value=255.0),
        ToTensorV2(),
    ]
    return AlbumentationsTransform(A.Compose([*augs, *tail], seed=seed), face_cutout_p, seed)


def build_train_transform(
    preset: str,
    image_size: int,
    mean: Sequence[float],
    std: Sequence[float],
    seed: int | None = None,
    face_cutout_p: float | None = None,
    distortions: A.BasicTransform | None = None,
) -> AlbumentationsTransform:
    """Training pipeline: the named augmentation preset, then resize to ``image_size``² and normalise.

    Args:
        preset: ``none``, ``light``, ``heavy`` or ``robust`` (``light`` and the sweep's distortions).
        image_size: output side in pixels (the model's input size).
        mean, std: per-channel normalisation for inputs scaled to [0, 1].
        seed: seed of albumentations' own RNG.
        face_cutout_p: probability of blacking out a face part located by the landmarks (DFDC winner), when the
            dataset has landmarks; None: 0.3 for ``heavy``, else 0.
        distortions: the evaluation sweep's distortions as augmentation, applied first
            (:class:`dfdet.perturb.augment.DistortionAugment`, ``augment=robust``); None: the preset's.
    """
    if preset not in PRESETS:
        raise ValueError(f"Unknown augmentation preset '{preset}'; choose one of {sorted(PRESETS)}")
    if face_cutout_p is None:
        face_cutout_p = 0.3 if preset == "heavy" else 0.0
    augs = PRESETS[preset]()
    if distortions is not None:  # these distortions instead of the preset's own
        augs = [distortions, *(a for a in augs if type(a).__name__ != "DistortionAugment")]
    return _compose(augs, image_size, mean, std, seed, face_cutout_p)


def build_eval_transform(image_size: int, mean: Sequence[float], std: Sequence[float]) -> AlbumentationsTransform:
    """Deterministic evaluation pipeline: resize to ``image_size``² and normalise."""
    return _compose([], image_size, mean, std, seed=0)


def global_rank() -> int:
    """This process's rank in a distributed run (0 otherwise): torch.distributed's, else the launcher's variables."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return int(torch.distributed.get_rank())
    for name in ("RANK", "SLURM_PROCID", "LOCAL_RANK"):
        if os.environ.get(name, "").isdigit():
            return int(os.environ[name])
    return 0


def rank_seed(seed: int) -> int:
    """``seed`` on rank 0 (single-process runs are unchanged), a distinct seed derived from it on every other rank."""
    rank = global_rank()
    if rank == 0:
        return int(seed)
    return int(np.random.SeedSequence([int(seed), rank]).generate_state(1, np.uint64)[0] % 2**63)


def seed_worker(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: gives each worker's randomness its own reproducible seed, derived from the
    worker's torch seed (which Lightning's seeding derives from the run seed) and, under DDP, the rank (workers of
    different ranks would otherwise draw the same augmentations): the dataset's albumentations pipeline and, where
    the dataset has one, its numpy generator (``dataset.reseed(seed)``)."""
    info = torch.utils.data.get_worker_info()
    dataset = info.dataset if info is not None else None
    seed = rank_seed(torch.initial_seed())
    transform = getattr(dataset, "transform", None)
    if isinstance(transform, AlbumentationsTransform):
        transform.set_random_seed(seed % 2**32)
    reseed = getattr(dataset, "reseed", None)
    if callable(reseed):
        reseed(seed % 2**63)
