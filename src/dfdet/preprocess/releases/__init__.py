"""Release readers: each public dataset folder read exactly as published, into a table of videos.

Light to import (no torch): training builds these objects from ``data.source.release`` for its quick layout check.
"""

from dfdet.preprocess.releases.audio_visual import AVDeepfake1MRelease, FakeAVCelebRelease, LAVDFRelease, LRSRelease
from dfdet.preprocess.releases.base import Release, ReleaseConfigError
from dfdet.preprocess.releases.celebdf import CelebDFRelease
from dfdet.preprocess.releases.dfdc import DFDCRelease
from dfdet.preprocess.releases.ffpp import FaceForensicsRelease
from dfdet.preprocess.releases.folder import FolderRelease

__all__ = [
    "AVDeepfake1MRelease",
    "CelebDFRelease",
    "DFDCRelease",
    "FakeAVCelebRelease",
    "FaceForensicsRelease",
    "FolderRelease",
    "LAVDFRelease",
    "LRSRelease",
    "Release",
    "ReleaseConfigError",
]
