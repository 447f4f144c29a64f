"""FFIW-10K (Zhou et al., "Face Forensics in the Wild", CVPR 2021) as released.

Layout::

    <root>/source/{train,val,test}/<name>.mp4 ...   real videos
    <root>/target/{train,val,test}/<name>.mp4 ...   the same videos with some faces manipulated (fake)
    <root>/label_json/...                           per-face annotations (not read: labels here are per video)

Splits: the release's folders. A target video's ``original`` is the source video of the same name and split.
Video ids: ``source/test/00001``, ``target/test/00001``.
What could not be checked here: the file names inside the split folders (any video name is read).
"""

from __future__ import annotations

import pandas as pd

from dfdet.data.layouts import LayoutReport, list_files, video_table
from dfdet.preprocess.releases.base import Release, rel
from dfdet.preprocess.video import VIDEO_EXTENSIONS

KINDS = {"source": 0, "target": 1}
SPLITS = ("train", "val", "test")


class FFIWRelease(Release):
    """Reads an FFIW-10K release (``root``: the release folder)."""

    key = "ffiw"

    def scan(self) -> tuple[pd.DataFrame, LayoutReport]:
        root = self.resolved_root()
        report = LayoutReport(self.key, root)
        known = {*KINDS, "label_json"}
        report.unexpected_entries(known)
        rows = []
        for kind, label in KINDS.items():
            if not (root / kind).is_dir():
                report.missing.append(kind)
                continue
            for split in SPLITS:
                videos, other = list_files(root / kind / split, VIDEO_EXTENSIONS)
                report.unexpected += [rel(p, root) for p in other]
                for path in videos:
                    original = f"source/{split}/{path.stem}" if label else ""
                    rows.append(
                        {
                            "dataset": self.key,
                            "split": split,
                            "video_id": f"{kind}/{split}/{path.stem}",
                            "label": label,
                            "method": "ffiw" if label else "real",
                            "source": rel(path, root),
                            "original": original,
                        }  # fmt: skip
                    )
        return video_table(rows), report
