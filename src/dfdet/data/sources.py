"""Where a datamodule's manifest comes from: the :class:`Source` protocol, and the face sources (the built-in synthetic
generator, a preprocessed public dataset). The audio sources are in :mod:`dfdet.data.audio.sources`."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Protocol

import pandas as pd

from dfdet.data.layouts import LAYOUTS, check_layout
from dfdet.data.manifest import read_manifest
from dfdet.data.synthetic.generate import SyntheticSpec, ensure_synthetic
from dfdet.errors import DatasetNotFoundError


class Source(Protocol):
    """Anything that can check its data, prepare it once, and list its items.

    ``manifest()`` returns one row per item with the columns ``dataset``, ``split`` (train/val/test), the group
    column named by ``id_column`` (``video_id`` for frames of videos, ``utt_id`` for utterances), ``label``
    (0 real, 1 fake), ``method`` (``real`` or the manipulation / attack id) and ``path`` (absolute); frame
    manifests add ``frame_index`` and may add ``landmarks``, ``box``, ``source`` (see :mod:`dfdet.data.manifest`).
    """

    name: str
    id_column: str

    def check(self) -> None: ...

    def prepare(self) -> None: ...

    def manifest(self) -> pd.DataFrame: ...


class SyntheticSource:
    """The built-in synthetic dataset, generated on first use into ``cache_dir`` (see :mod:`dfdet.data.synthetic`).

    Args:
        cache_dir: folder holding generated datasets, one subfolder per parameter set.
        seed: generator seed; the same seed and parameters give the same files.
        image_size: side of the square frames in pixels.
        identities: number of identities in train, val and test (disjoint).
        videos_per_identity: real videos per identity; each gets one fake counterpart.
        frames_per_video: frames per video.
        jpeg_quality: range of per-video JPEG qualities.
    """

    name = "synthetic"
    id_column = "video_id"

    def __init__(
        self,
        cache_dir: str | os.PathLike,
        seed: int = 0,
        image_size: int = 96,
        identities: tuple[int, int, int] | list[int] = (48, 12, 12),
        videos_per_identity: int = 2,
        frames_per_video: int = 8,
        jpeg_quality: tuple[int, int] | list[int] = (60, 95),
    ) -> None:
        self.cache_dir = Path(cache_dir)
        self.spec = SyntheticSpec(
            seed=seed,
            image_size=image_size,
            identities=tuple(identities),  # type: ignore[arg-type]
            videos_per_identity=videos_per_identity,
            frames_per_video=frames_per_video,
            jpeg_quality=tuple(jpeg_quality),  # type: ignore[arg-type]
        )

    def check(self) -> None:
        if min(self.spec.identities) < 2:
            raise DatasetNotFoundError("data.source.identities needs at least 2 identities per split")

    def prepare(self) -> None:
        ensure_synthetic(self.spec, self.cache_dir)

    def manifest_path(self) -> Path:
        return ensure_synthetic(self.spec, self.cache_dir)

    def manifest(self) -> pd.DataFrame:
        """The frame manifest, with ``original``: a fake's id starts with the id of the real video it was made from
        (``train_id003_v1_faceswap_id007`` from ``train_id003_v1``)."""
        df = read_manifest(self.manifest_path(), check_files=False)  # the datamodule checks files
        real_id = df["video_id"].astype(str).str.extract(r"^(\w+?_id\d+_v\d+)_", expand=False).fillna("")
        df["original"] = real_id.where(df["label"] == 1, "")
        return df


class ReleaseChecker(Protocol):
    """What training needs of a release reader (:mod:`dfdet.preprocess.releases`): its quick structural check."""

    def check_structure(self) -> Path: ...


class ProcessedSource:
    """A public dataset (or your own folder) turned into face crops and a manifest by ``preprocess.py``.

    Args:
        layout: key of :data:`dfdet.data.layouts.LAYOUTS` (``ffpp``, ``celebdf``, ``dfdc``, ``folder``).
        root: the dataset's release folder.
        processed_dir: where preprocessing wrote ``manifest.parquet`` and the crops.
        compression: FaceForensics++ quality (``raw``/``c0``, ``c23``, ``c40``) for the quick layout check when no
            ``release`` is given; ignored by other layouts.
        release: the release reader that ``preprocess.py`` uses (``data.source.release``); when given, its
            structural check (with its own options, e.g. the compression) replaces the one above.
    """

    id_column = "video_id"

    def __init__(
        self,
        layout: str,
        root: str | None,
        processed_dir: str | os.PathLike,
        compression: str = "c23",
        release: ReleaseChecker | None = None,
    ) -> None:
        if layout not in LAYOUTS:
            raise DatasetNotFoundError(f"Unknown dataset layout '{layout}'; known: {', '.join(LAYOUTS)}")
        self.name = layout
        self.layout = layout
        self.root = root
        self.processed_dir = Path(processed_dir)
        self.compression = "raw" if compression == "c0" else compression
        self.release = release

    def check(self) -> None:
        if self.release is not None:
            self.release.check_structure()
        else:
            check_layout(self.layout, self.root, compression=self.compression)
        if not (self.processed_dir / "manifest.parquet").is_file():
            raise DatasetNotFoundError(
                f"{LAYOUTS[self.layout].name} at {self.root} has not been preprocessed: no manifest at "
                f"{self.processed_dir / 'manifest.parquet'}. Run: python preprocess.py data={self.layout} "
                f"data.root={self.root}"
            )

    def prepare(self) -> None:
        self.check()

    def manifest_path(self) -> Path:
        return self.processed_dir / "manifest.parquet"

    def crop_margin(self) -> float | None:
        """The face box margin the crops were made with (``cropper.margin`` of ``preprocess.json``), or None."""
        path = self.processed_dir / "preprocess.json"
        try:
            margin = json.loads(path.read_text()).get("cropper", {}).get("margin")
        except (OSError, ValueError, AttributeError):
            return None
        return float(margin) if isinstance(margin, int | float) else None

    def manifest(self) -> pd.DataFrame:
        """The frame manifest; with a ``source`` column (what ``preprocess.py`` writes), ``source_path`` adds each
        row's source video file (audio-visual readers read its sound), and a release with ``annotations()`` (the
        audio-visual ones) adds its per-video columns (``video_label``, ``audio_label``, ``fake_segments``, ...)."""
        df = read_manifest(self.manifest_path(), check_files=False)  # the datamodule checks files
        if "source" in df.columns:
            files = {s: str(self.video_file(s)) for s in df["source"].astype(str).unique()}
            df["source_path"] = df["source"].astype(str).map(files)
            annotations = getattr(self.release, "annotations", None)
            if annotations is not None:  # per-video labels of audio-visual releases (video/audio label, segments)
                notes = annotations()
                if not notes.empty:
                    df = df.merge(notes, on="source", how="left", suffixes=("", "_release"))
        return df

    def video_file(self, source: str) -> Path:
        """The file a manifest row's ``source`` names (relative to the release folder, or absolute)."""
        if os.path.isabs(source):
            return Path(source)
        if self.release is not None and hasattr(self.release, "source_path"):
            return Path(self.release.source_path(source))
        return Path(str(self.root)) / source
