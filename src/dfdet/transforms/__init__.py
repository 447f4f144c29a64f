"""Image transforms and augmentation presets (albumentations stays behind this package)."""

from dfdet.transforms.presets import PRESETS, build_eval_transform, build_train_transform, seed_worker

__all__ = ["PRESETS", "build_eval_transform", "build_train_transform", "seed_worker"]
