"""What every release reader shares: the root, the quick structural check and the full scan."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

import pandas as pd

from dfdet.data.layouts import LAYOUTS, LayoutReport, check_layout, resolve_root, split_by_hash
from dfdet.errors import DfdetError


class ReleaseConfigError(DfdetError):
    """A release reader is configured with a value it does not know (a method, a compression, a fraction)."""


class Release(ABC):
    """A dataset release folder read exactly as it was published.

    Args:
        root: the release folder (``data.root``); None when not configured (checks then say so).
    """

    key: ClassVar[str]

    def __init__(self, root: str | os.PathLike | None) -> None:
        self.root = root

    @property
    def name(self) -> str:
        """Display name of the dataset."""
        return LAYOUTS[self.key].name

    def layout_fmt(self) -> dict[str, str]:
        """Values of the placeholders in :data:`dfdet.data.layouts.LAYOUTS` patterns (e.g. the compression)."""
        return {}

    def resolved_root(self) -> Path:
        """The release folder; raises :class:`~dfdet.errors.DatasetNotFoundError` if unset or absent."""
        return resolve_root(self.key, self.root, **self.layout_fmt())

    def check_structure(self) -> Path:
        """Quick structural check (what training runs before reading the processed manifest)."""
        return check_layout(self.key, self.root, **self.layout_fmt())

    def source_path(self, source: str) -> Path:
        """Absolute path of a video table's ``source`` entry."""
        return self.resolved_root() / source

    @abstractmethod
    def scan(self) -> tuple[pd.DataFrame, LayoutReport]:
        """Reads the whole release.

        Returns:
            The video table (:data:`dfdet.data.layouts.VIDEO_COLUMNS`) and the layout report; the caller decides
            whether to raise (:meth:`LayoutReport.raise_if_unusable`).
        """


def check_fraction(name: str, value: float) -> float:
    """Validates a split fraction in [0, 1)."""
    if not 0.0 <= value < 1.0:
        raise ReleaseConfigError(f"data.source.release.{name} must be in [0, 1), got {value}")
    return float(value)


def rel(path: Path, root: Path) -> str:
    """``path`` relative to ``root`` with forward slashes."""
    return path.relative_to(root).as_posix()


UNSPLIT = ("test", "hash")  # what a release without an official split does with its videos


def check_unsplit(value: str) -> str:
    """Validates ``data.source.release.unsplit``: ``test`` (every video is test: the cross-dataset protocol) or
    ``hash`` (train/val/test by a hash of the video's group, as a folder of your own is split)."""
    if value not in UNSPLIT:
        raise ReleaseConfigError(f"data.source.release.unsplit must be test or hash, got '{value}'")
    return value


def unsplit_split(group: str, unsplit: str, val_fraction: float = 0.1, test_fraction: float = 0.1) -> str:
    """The split of a video the release puts in no split (see :func:`check_unsplit`), by its ``group`` key."""
    return "test" if unsplit == "test" else split_by_hash(group, val_fraction, test_fraction)
