"""Backbones, losses and the LightningModule."""

from dfdet.models.backbone import build_backbone, cached_weights
from dfdet.models.detector import DeepfakeDetector
from dfdet.models.loading import audio_sample_rate, init_from_checkpoint, load_detector, read_checkpoint
from dfdet.models.losses import BinaryCrossEntropy

__all__ = [
    "BinaryCrossEntropy",
    "DeepfakeDetector",
    "audio_sample_rate",
    "build_backbone",
    "cached_weights",
    "init_from_checkpoint",
    "load_detector",
    "read_checkpoint",
]
