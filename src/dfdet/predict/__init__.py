"""Prediction on new files: images, videos and audio, scored by an exported ONNX model or a checkpoint.

``python predict.py model=PATH input=FILE_OR_FOLDER`` runs :func:`dfdet.tasks.predict.predict`; the HTTP API
(:mod:`dfdet.serve`) uses the same :class:`Predictor`. Nothing here imports Lightning or timm unless a checkpoint
is loaded.
"""

from dfdet.predict.errors import MediaError, PredictError
from dfdet.predict.media import MediaType, sniff, sniff_file
from dfdet.predict.models import CheckpointModel, Model, ModelInfo, OnnxModel, load_model
from dfdet.predict.predictor import ExplainedFace, Prediction, Predictor
from dfdet.predict.suite import Suite

__all__ = [
    "CheckpointModel",
    "ExplainedFace",
    "MediaError",
    "MediaType",
    "Model",
    "ModelInfo",
    "OnnxModel",
    "PredictError",
    "Prediction",
    "Predictor",
    "Suite",
    "load_model",
    "sniff",
    "sniff_file",
]
