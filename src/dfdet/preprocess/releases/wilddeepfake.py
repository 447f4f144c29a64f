"""WildDeepfake (Zi et al., ACM MM 2020) as released, its archives unpacked.

Layout::

    <root>/real_train/<video>/.../<frame>.png ...    each .tar.gz of the release unpacked in place
    <root>/real_test/...   <root>/fake_train/...   <root>/fake_test/...

The release holds face sequences cut from internet videos, as frame images: every folder that directly holds images
is one sequence, read as one video (:func:`dfdet.preprocess.video.read_media` reads a folder of frames). Splits: the
``*_test`` folders are test; from the ``*_train`` folders, ``val_fraction`` of the videos (the first folder level,
with all its sequences) is carved as val by :func:`~dfdet.data.layouts.pick_groups`.
Video ids: the sequence folder's path, e.g. ``fake_test/12/fake/3``.
What could not be checked here: the depth of the folders inside the archives (any depth is read).
"""

from __future__ import annotations

import os

import pandas as pd

from dfdet.data.layouts import LayoutReport, frame_sequences, pick_groups, video_table
from dfdet.preprocess.releases.base import Release, check_fraction, rel
from dfdet.preprocess.video import IMAGE_EXTENSIONS

FOLDERS = {f"{kind}_{split}": (int(kind == "fake"), split) for kind in ("real", "fake") for split in ("train", "test")}


class WildDeepfakeRelease(Release):
    """Reads a WildDeepfake release.

    Args:
        root: the release folder.
        val_fraction: fraction of the training videos put in val.
    """

    key = "wilddeepfake"

    def __init__(self, root: str | os.PathLike | None, val_fraction: float = 0.1) -> None:
        super().__init__(root)
        self.val_fraction = check_fraction("val_fraction", val_fraction)

    def scan(self) -> tuple[pd.DataFrame, LayoutReport]:
        root = self.resolved_root()
        report = LayoutReport(self.key, root)
        report.unexpected_entries(FOLDERS)
        found = []
        for name, (label, split) in FOLDERS.items():
            folder = root / name
            if not folder.is_dir():
                continue
            sequences = frame_sequences(folder, IMAGE_EXTENSIONS)
            archives = sorted(folder.glob("*.tar*"))
            if archives and not sequences:
                report.missing.append(f"{name}/ frames ({len(archives)} archive(s) not unpacked)")
                report.hints.append(f"Unpack them first: cd {folder} && for f in *.tar.gz; do tar -xzf $f; done")
                continue
            found += [(label, split, name, seq) for seq in sequences]
        for kind in ("real", "fake"):
            if not any(name.startswith(kind) for _, _, name, _ in found) and not report.missing:
                report.missing.append(f"{kind}_test/ or {kind}_train/")
        group = {seq: (seq.relative_to(root / name).parts or (name,))[0] for _, _, name, seq in found}
        val = pick_groups((f"{name}/{group[s]}" for _, split, name, s in found if split == "train"), self.val_fraction)
        rows = []
        for label, split, name, seq in found:
            if split == "train" and f"{name}/{group[seq]}" in val:
                split = "val"
            rows.append(
                {
                    "dataset": self.key,
                    "split": split,
                    "video_id": rel(seq, root),
                    "label": label,
                    "method": "wild" if label else "real",
                    "source": rel(seq, root),
                }  # fmt: skip
            )
        return video_table(rows), report
