"""Datasets, manifests and the datamodule."""

from dfdet.data.datamodule import DeepfakeDataModule
from dfdet.data.datasets import FrameDataset
from dfdet.data.manifest import read_manifest, validate_manifest
from dfdet.data.sources import ProcessedSource, SyntheticSource

__all__ = [
    "DeepfakeDataModule",
    "FrameDataset",
    "ProcessedSource",
    "SyntheticSource",
    "read_manifest",
    "validate_manifest",
]
