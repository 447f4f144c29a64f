"""The built-in talking-clip source: frames plus sound, generated once (see :mod:`dfdet.data.av.generate`)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from dfdet.data.av.generate import SyntheticAVSpec, ensure_synthetic_av
from dfdet.data.manifest import read_manifest
from dfdet.errors import DatasetNotFoundError


class SyntheticAVSource:
    """Talking clips whose mouth follows the voice, and their lip-sync, offset, face/voice and partial fakes.

    The manifest has one row per frame with ``source_path`` (the clip's mp4, whose sound
    :class:`~dfdet.data.readers.AudioVisualReader` reads) and the video's segment labels.

    Args:
        cache_dir: folder holding generated sets, one subfolder per parameter set.
        seed: generator seed; the same seed and parameters give the same files.
        persons: persons (face and voice) in train, val and test (disjoint).
        clips_per_person: real clips per person; each gets one fake counterpart.
        size: frame side in pixels.
        fps: frame rate.
        seconds: clip length.
        jpeg_quality: of the frames decoded from the mp4.
    """

    name = "synthetic_av"
    id_column = "video_id"

    def __init__(
        self,
        cache_dir: str | os.PathLike,
        seed: int = 0,
        persons: tuple[int, int, int] | list[int] = (16, 4, 4),
        clips_per_person: int = 2,
        size: int = 96,
        fps: int = 25,
        seconds: float = 3.0,
        jpeg_quality: int = 90,
    ) -> None:
        self.cache_dir = Path(cache_dir)
        self.spec = SyntheticAVSpec(
            seed=seed,
            persons=tuple(int(p) for p in persons),  # type: ignore[arg-type]
            clips_per_person=int(clips_per_person),
            size=int(size),
            fps=int(fps),
            seconds=float(seconds),
            jpeg_quality=int(jpeg_quality),
        )

    def check(self) -> None:
        if len(self.spec.persons) != 3 or min(self.spec.persons) < 2:
            raise DatasetNotFoundError("data.source.persons needs [train, val, test] with at least 2 persons each")
        if self.spec.seconds < 1.0:
            raise DatasetNotFoundError("data.source.seconds must be at least 1.0 (partial fakes replace 0.3-2 s)")

    def prepare(self) -> None:
        self.manifest_path()

    def manifest_path(self) -> Path:
        self.check()
        return ensure_synthetic_av(self.spec, self.cache_dir)

    def video_file(self, source: str) -> Path:
        """The mp4 a manifest row's ``source`` names."""
        return self.manifest_path().parent / source

    def manifest(self) -> pd.DataFrame:
        path = self.manifest_path()
        df = read_manifest(path, check_files=False)  # the datamodule checks files
        df["source_path"] = [str(path.parent / s) for s in df["source"]]
        return df
