"""Celeb-DF v2 (Li et al. 2020) as released.

Layout::

    <root>/Celeb-real/id0_0000.mp4 ...          real, celebrity id0
    <root>/YouTube-real/00000.mp4 ...           real, one unnamed person per video
    <root>/Celeb-synthesis/id0_id1_0000.mp4 ... fake: video id0_0000 with the face of id1
    <root>/List_of_testing_videos.txt           lines "<label> <folder>/<file>", label 1 = REAL on this list

Splits: the listed videos are the test set and never enter training. Val is carved from the other videos by
identity (the target identity ``idA`` of a fake ``idA_idB_nnnn``; each YouTube-real video is its own identity):
``val_fraction`` of the celebrity identities and of the YouTube-real videos, picked by
:func:`~dfdet.data.layouts.pick_groups`. The source identity ``idB`` of a fake may appear in training.
Video ids: ``Celeb-real/id0_0000``, ``YouTube-real/00000``, ``Celeb-synthesis/id0_id1_0000`` (whose ``original``
is ``Celeb-real/id0_0000``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd

from dfdet.data.layouts import LayoutReport, list_files, pick_groups, video_table
from dfdet.preprocess.releases.base import Release, check_fraction, rel
from dfdet.preprocess.video import VIDEO_EXTENSIONS

FOLDERS = {"Celeb-real": 0, "YouTube-real": 0, "Celeb-synthesis": 1}  # folder -> label (1 fake)
TEST_LIST = "List_of_testing_videos.txt"
_IDENTITY = re.compile(r"^(id\d+)_")


class CelebDFRelease(Release):
    """Reads a Celeb-DF (v2) release.

    Args:
        root: the release folder.
        val_fraction: fraction of the non-test identities put in val.
    """

    key = "celebdf"

    def __init__(self, root: str | os.PathLike | None, val_fraction: float = 0.1) -> None:
        super().__init__(root)
        self.val_fraction = check_fraction("val_fraction", val_fraction)

    def scan(self) -> tuple[pd.DataFrame, LayoutReport]:
        root = self.resolved_root()
        report = LayoutReport(self.key, root)
        known = {*FOLDERS, TEST_LIST}
        report.unexpected_entries(known)
        test_labels = self._read_test_list(root, report)
        videos: dict[str, Path] = {}
        for folder in FOLDERS:
            if not (root / folder).is_dir():
                report.missing.append(folder)
                continue
            files, other = list_files(root / folder, VIDEO_EXTENSIONS)
            report.unexpected += [rel(p, root) for p in other]
            videos.update({rel(p, root): p for p in files})
        for source in sorted(test_labels.keys() - videos.keys()):
            report.add_absent(TEST_LIST, source)

        identity = {source: self._identity(source) for source in videos if source not in test_labels}
        celeb = {g for g in identity.values() if g.startswith("id")}
        val = pick_groups(celeb, self.val_fraction) | pick_groups(set(identity.values()) - celeb, self.val_fraction)
        rows = []
        for source, path in videos.items():
            folder = source.split("/", 1)[0]
            label = FOLDERS[folder]
            if source in test_labels and test_labels[source] != label:
                listed = "FAKE" if test_labels[source] else "REAL"
                report.unexpected.append(f"{TEST_LIST} labels {source} {listed}; the folder's label is used")
            split = "test" if source in test_labels else "val" if identity[source] in val else "train"
            rows.append(
                {
                    "dataset": self.key,
                    "split": split,
                    "video_id": f"{folder}/{path.stem}",
                    "label": label,
                    "method": "Celeb-synthesis" if label else "real",
                    "source": source,
                    "original": _original(path.stem) if label else "",
                }
            )
        return video_table(rows), report

    @staticmethod
    def _identity(source: str) -> str:
        folder, name = source.split("/", 1)
        match = _IDENTITY.match(name)
        return match.group(1) if match and folder != "YouTube-real" else f"{folder}/{Path(name).stem}"

    @staticmethod
    def _read_test_list(root: Path, report: LayoutReport) -> dict[str, int]:
        """``source -> label`` (0 real, 1 fake; the file itself says 1 for real) of the listed test videos."""
        path = root / TEST_LIST
        if not path.is_file():
            report.missing.append(TEST_LIST)
            return {}
        labels = {}
        for n, line in enumerate(path.read_text().splitlines(), start=1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 2 or parts[0] not in ("0", "1"):
                report.unexpected.append(f"{TEST_LIST} line {n}: '{line.strip()}' is not '<0|1> <folder>/<file>'")
                continue
            labels[parts[1]] = 1 - int(parts[0])
        return labels


def _original(stem: str) -> str:
    """The real video a Celeb-DF fake was made from: ``id0_id1_0000`` (the face of id1 in video id0_0000) comes
    from ``Celeb-real/id0_0000``; "" for another name."""
    parts = stem.split("_")
    return f"Celeb-real/{parts[0]}_{parts[2]}" if len(parts) == 3 and parts[0].startswith("id") else ""
