"""DF40 (Yan et al., "DF40: Toward Next-Generation Deepfake Detection", NeurIPS 2024 D&B) as released.

Layout (the processed archives, fake face frames only)::

    <root>/<method>/{ff,cdf}/frames/<video>/<frame>.png ...   methods made in the FF++ or Celeb-DF domain
    <root>/<method>/.../<frame>.png ...                        the others (e.g. heygen, MidJourney), any depth
    real_dirs: [<folder>, ...]                                 folders of real frames (the FF++ and Celeb-DF real
                                                               frames linked from the DF40 README)

Every folder that directly holds images is one video (a face sequence; for whole-face synthesis methods a folder of
single images, whose video metrics are then those of the folder). ``method`` is ``<method>_<domain>`` (e.g.
``simswap_ff``, as DF40 names its test sets) or ``<method>`` without a domain. The release has no split for testing:
``unsplit`` puts everything in test (default) or splits by a hash of the video id.
Video ids: ``simswap/ff/frames/000_003``, ``real0/<path in the first real folder>``.
What could not be checked here: the folder names inside the archives (any depth is read); DF40's own JSON lists.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from dfdet.data.layouts import LayoutReport, frame_sequences, video_table
from dfdet.preprocess.releases.base import Release, check_unsplit, rel, unsplit_split
from dfdet.preprocess.video import IMAGE_EXTENSIONS

DOMAINS = ("ff", "cdf")


class DF40Release(Release):
    """Reads DF40's processed frames.

    Args:
        root: the folder holding one folder per method.
        real_dirs: folders of real face frames (one subfolder of frames per video, any depth).
        methods: method folders to read (None: every one).
        unsplit: ``test`` or ``hash``.
    """

    key = "df40"

    def __init__(
        self,
        root: str | os.PathLike | None,
        real_dirs: Sequence[str | os.PathLike] = (),
        methods: Sequence[str] | None = None,
        unsplit: str = "test",
    ) -> None:
        super().__init__(root)
        self.real_dirs = [Path(p).expanduser() for p in real_dirs]
        self.methods = None if methods is None else list(methods)
        self.unsplit = check_unsplit(unsplit)

    def scan(self) -> tuple[pd.DataFrame, LayoutReport]:
        root = self.resolved_root()
        report = LayoutReport(self.key, root)
        present = sorted(p.name for p in root.iterdir() if p.is_dir() and p.name[0] != ".")
        chosen = present if self.methods is None else self.methods
        for method in chosen:
            if method not in present:
                report.missing.append(f"{method}/")
        if self.methods is not None and len(report.missing):
            report.hints.append(f"Methods present: {', '.join(present)}")
        rows = []
        for method in (m for m in chosen if m in present):
            for seq in frame_sequences(root / method, IMAGE_EXTENSIONS):
                inner = seq.relative_to(root / method).parts
                name = f"{method}_{inner[0]}" if inner and inner[0] in DOMAINS else method
                rows.append(self._row(rel(seq, root), 1, name, rel(seq, root)))
        if not self.real_dirs:
            report.missing.append("real frames (data.source.release.real_dirs is empty)")
        for i, folder in enumerate(self.real_dirs):
            if not folder.is_dir():
                report.missing.append(f"real frames folder {folder}")
                continue
            for seq in frame_sequences(folder, IMAGE_EXTENSIONS):
                video_id = f"real{i}/{seq.relative_to(folder).as_posix()}" if seq != folder else f"real{i}"
                rows.append(self._row(video_id, 0, "real", str(seq.resolve())))
        return video_table(rows), report

    def _row(self, video_id: str, label: int, method: str, source: str) -> dict:
        return {"dataset": self.key, "split": unsplit_split(video_id, self.unsplit), "video_id": video_id,
                "label": label, "method": method, "source": source}  # fmt: skip
