"""Image transforms and augmentation presets (albumentations stays behind this package).

Names are imported lazily, so that the numpy crops of whole images (:mod:`dfdet.transforms.crops`, used by the ONNX
predictor) do not import albumentations.
"""

from __future__ import annotations

from dfdet.utils.lazy import lazy_exports

_EXPORTS = {
    "image_inputs": "dfdet.transforms.crops",
    "build_image_train_transform": "dfdet.transforms.images",
    "PRESETS": "dfdet.transforms.presets",
    "build_eval_transform": "dfdet.transforms.presets",
    "build_train_transform": "dfdet.transforms.presets",
    "seed_worker": "dfdet.transforms.presets",
}
__all__ = sorted(_EXPORTS)


__getattr__ = lazy_exports(__name__, _EXPORTS)
