"""Release readers: each public dataset folder read exactly as published, into a table of videos.

Light to import (no torch): training builds these objects from ``data.source.release`` for its quick layout check.
"""

from dfdet.preprocess.releases.audio_visual import AVDeepfake1MRelease, FakeAVCelebRelease, LAVDFRelease, LRSRelease
from dfdet.preprocess.releases.base import Release, ReleaseConfigError
from dfdet.preprocess.releases.celebdf import CelebDFRelease
from dfdet.preprocess.releases.deeperforensics import DeeperForensicsRelease
from dfdet.preprocess.releases.df40 import DF40Release
from dfdet.preprocess.releases.dfdc import DFDCRelease
from dfdet.preprocess.releases.ffiw import FFIWRelease
from dfdet.preprocess.releases.ffpp import FaceForensicsRelease
from dfdet.preprocess.releases.folder import FolderRelease
from dfdet.preprocess.releases.uadfv import UADFVRelease
from dfdet.preprocess.releases.wilddeepfake import WildDeepfakeRelease

__all__ = [
    "AVDeepfake1MRelease",
    "CelebDFRelease",
    "DeeperForensicsRelease",
    "DF40Release",
    "DFDCRelease",
    "FaceForensicsRelease",
    "FakeAVCelebRelease",
    "FFIWRelease",
    "FolderRelease",
    "LAVDFRelease",
    "LRSRelease",
    "Release",
    "ReleaseConfigError",
    "UADFVRelease",
    "WildDeepfakeRelease",
]
