"""UADFV (Yang, Li and Lyu, "Exposing Deep Fakes Using Inconsistent Head Poses", ICASSP 2019) as released.

Layout::

    <root>/real/0000.mp4 ...         49 real videos
    <root>/fake/0000_fake.mp4 ...    the same videos with a swapped face

The release has no split: ``unsplit`` puts every video in test (the cross-dataset protocol, default) or splits by a
hash of the real video's name (a fake goes with its real). ``original`` of ``fake/0000_fake`` is ``real/0000``.
Video ids: ``real/0000``, ``fake/0000_fake``.
"""

from __future__ import annotations

import os

import pandas as pd

from dfdet.data.layouts import LayoutReport, list_files, video_table
from dfdet.preprocess.releases.base import Release, check_unsplit, rel, unsplit_split
from dfdet.preprocess.video import VIDEO_EXTENSIONS

LABELS = {"real": 0, "fake": 1}


class UADFVRelease(Release):
    """Reads a UADFV release.

    Args:
        root: the release folder.
        unsplit: ``test`` (every video) or ``hash`` (train/val/test by the real video's name).
    """

    key = "uadfv"

    def __init__(self, root: str | os.PathLike | None, unsplit: str = "test") -> None:
        super().__init__(root)
        self.unsplit = check_unsplit(unsplit)

    def scan(self) -> tuple[pd.DataFrame, LayoutReport]:
        root = self.resolved_root()
        report = LayoutReport(self.key, root)
        report.unexpected_entries(LABELS)
        rows = []
        for name, label in LABELS.items():
            if not (root / name).is_dir():
                report.missing.append(name)
                continue
            videos, other = list_files(root / name, VIDEO_EXTENSIONS)
            report.unexpected += [rel(p, root) for p in other]
            for path in videos:
                real = path.stem.removesuffix("_fake")
                rows.append(
                    {
                        "dataset": self.key,
                        "split": unsplit_split(real, self.unsplit),
                        "video_id": f"{name}/{path.stem}",
                        "label": label,
                        "method": "uadfv" if label else "real",
                        "source": rel(path, root),
                        "original": f"real/{real}" if label else "",
                    }  # fmt: skip
                )
        return video_table(rows), report
