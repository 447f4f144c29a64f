"""Your own data: videos and/or images under ``<root>/real`` and ``<root>/fake``.

Layout::

    <root>/real/<name>.mp4, <name>.jpg, <subfolder>/<name>.png ...
    <root>/fake/...

Any depth of subfolders; videos (:data:`~dfdet.preprocess.video.VIDEO_EXTENSIONS`) and images
(:data:`~dfdet.preprocess.video.IMAGE_EXTENSIONS`, one frame each) may be mixed.

Splits are deterministic, by a hash of a group key (:func:`~dfdet.data.layouts.split_by_hash`): the file stem for
files directly in ``real/`` or ``fake/``, the first subfolder for files deeper down (so the frames or clips of
one person or video in ``real/person1/`` stay together). A real ``real/abc.mp4`` and a fake ``fake/abc.mp4``
land in the same split. Adding files never moves other files to another split.
Video ids: the path under the root without its extension, e.g. ``real/abc``, ``fake/person1/0001``.
"""

from __future__ import annotations

import os

import pandas as pd

from dfdet.data.layouts import LayoutReport, split_by_hash, video_table
from dfdet.preprocess.releases.base import Release, ReleaseConfigError, check_fraction, rel
from dfdet.preprocess.video import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS

LABELS = {"real": 0, "fake": 1}


class FolderRelease(Release):
    """Reads ``<root>/real`` and ``<root>/fake``.

    Args:
        root: the folder.
        val_fraction: expected fraction of groups in val.
        test_fraction: expected fraction of groups in test.
    """

    key = "folder"

    def __init__(self, root: str | os.PathLike | None, val_fraction: float = 0.1, test_fraction: float = 0.1) -> None:
        super().__init__(root)
        self.val_fraction = check_fraction("val_fraction", val_fraction)
        self.test_fraction = check_fraction("test_fraction", test_fraction)
        if self.val_fraction + self.test_fraction >= 1:
            raise ReleaseConfigError("data.source.release.val_fraction + test_fraction must be below 1")

    def scan(self) -> tuple[pd.DataFrame, LayoutReport]:
        root = self.resolved_root()
        report = LayoutReport(self.key, root)
        report.unexpected_entries(LABELS)
        rows: list[dict] = []
        seen: dict[str, str] = {}
        for name, label in LABELS.items():
            folder = root / name
            if not folder.is_dir():
                report.missing.append(f"{name}/")
                continue
            found = 0
            for path in sorted(folder.rglob("*")):
                if path.is_dir() or any(part.startswith(".") for part in path.relative_to(folder).parts):
                    continue
                if path.suffix.lower() not in VIDEO_EXTENSIONS + IMAGE_EXTENSIONS:
                    report.unexpected.append(rel(path, root))
                    continue
                video_id = rel(path.with_suffix(""), root)
                if video_id in seen:
                    report.unexpected.append(f"{rel(path, root)} (same name as {seen[video_id]}; skipped)")
                    continue
                seen[video_id] = rel(path, root)
                inner = path.relative_to(folder).parts
                group = inner[0] if len(inner) > 1 else path.stem
                found += 1
                rows.append(
                    {
                        "dataset": self.key,
                        "split": split_by_hash(group, self.val_fraction, self.test_fraction),
                        "video_id": video_id,
                        "label": label,
                        "method": name,
                        "source": rel(path, root),
                    }
                )
            if not found:
                report.missing.append(f"{name}/ (no videos or images in it)")
        return video_table(rows), report
