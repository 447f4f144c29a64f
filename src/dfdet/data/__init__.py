"""Sources, manifests, item readers and the one datamodule.

Names are imported lazily, so that the ONNX predictor (which needs :mod:`dfdet.data.audio.io` and nothing of the
training stack) does not import Lightning.
"""

from __future__ import annotations

from dfdet.utils.lazy import lazy_exports

_EXPORTS = {
    "DeepfakeDataModule": "dfdet.data.datamodule",
    "AudioDataset": "dfdet.data.datasets",
    "ClipDataset": "dfdet.data.datasets",
    "FrameDataset": "dfdet.data.datasets",
    "read_manifest": "dfdet.data.manifest",
    "validate_manifest": "dfdet.data.manifest",
    "AudioWindowReader": "dfdet.data.readers",
    "ClipReader": "dfdet.data.readers",
    "FrameReader": "dfdet.data.readers",
    "face_reader": "dfdet.data.readers",
    "ProcessedSource": "dfdet.data.sources",
    "Source": "dfdet.data.sources",
    "SyntheticSource": "dfdet.data.sources",
}
__all__ = sorted(_EXPORTS)


__getattr__ = lazy_exports(__name__, _EXPORTS)
