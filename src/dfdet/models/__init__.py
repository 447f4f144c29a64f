"""Backbones, losses and the LightningModule."""

from dfdet.models.backbone import build_backbone, cached_weights
from dfdet.models.detector import DeepfakeDetector
from dfdet.models.loading import init_from_checkpoint, load_detector, read_checkpoint, stored_config
from dfdet.models.losses import BinaryCrossEntropy

__all__ = [
    "BinaryCrossEntropy",
    "DeepfakeDetector",
    "build_backbone",
    "cached_weights",
    "init_from_checkpoint",
    "load_detector",
    "read_checkpoint",
    "stored_config",
]
