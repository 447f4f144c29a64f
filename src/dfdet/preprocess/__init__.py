"""Face preprocessing at scale: release readers, frame sampling, the per-video pipeline, the processed folder.

``python preprocess.py data=<ffpp|celebdf|dfdc|folder> data.root=...`` runs :func:`dfdet.tasks.preprocess.preprocess`.

Names are imported lazily, so that worker processes (which only need the pipeline) do not import the training
stack that :mod:`dfdet.data` pulls in.
"""

from __future__ import annotations

from dfdet.utils.lazy import lazy_exports

_EXPORTS = {
    "CelebDFRelease": "dfdet.preprocess.releases",
    "DFDCRelease": "dfdet.preprocess.releases",
    "FaceForensicsRelease": "dfdet.preprocess.releases",
    "FolderRelease": "dfdet.preprocess.releases",
    "Release": "dfdet.preprocess.releases",
    "ReleaseConfigError": "dfdet.preprocess.releases",
    "NoFaceError": "dfdet.preprocess.pipeline",
    "VideoFaces": "dfdet.preprocess.pipeline",
    "VideoPreprocessor": "dfdet.preprocess.pipeline",
    "ProcessedStore": "dfdet.preprocess.store",
    "DecodeError": "dfdet.preprocess.video",
    "read_media": "dfdet.preprocess.video",
    "sample_indices": "dfdet.preprocess.video",
}
__all__ = sorted(_EXPORTS)


__getattr__ = lazy_exports(__name__, _EXPORTS)
