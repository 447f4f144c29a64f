"""DeeperForensics-1.0 (Jiang et al., CVPR 2020) as released.

Layout::

    <root>/manipulated_videos/<perturbation>/000_M101.mp4 ...   fakes: FF++ video 000 with the face of actor M101;
                                                                 end_to_end, or one of the perturbed variants
    <root>/source_videos/M101/.../*.mp4 ...                      the actors' real videos (any depth below the actor)
    <root>/lists/splits/{train,val,test}.txt                     the fakes of each split, one file name per line

Splits: fakes follow the split lists (a fake in no list is left out and counted). An actor's real videos take the
split of most of that actor's fakes (test on a tie); an actor without listed fakes follows ``unsplit``.
``max_real_per_actor`` keeps a fixed subset of each actor's real videos (the release has about 50 000 of them, by
light, expression and camera); the kept ones are chosen by a hash of their paths, so adding videos moves none.
The fakes' target videos are FaceForensics++ originals, not part of this release, so ``original`` stays empty.
Video ids: ``end_to_end/000_M101``, ``source/M101/<path below the actor>``.
What could not be checked here: the depth of ``source_videos`` (any depth is read).
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pandas as pd

from dfdet.data.layouts import LayoutReport, list_files, stable_fraction, video_table
from dfdet.preprocess.releases.base import Release, ReleaseConfigError, check_unsplit, rel, unsplit_split
from dfdet.preprocess.video import VIDEO_EXTENSIONS

SPLITS = ("train", "val", "test")
LISTS = "lists/splits"


class DeeperForensicsRelease(Release):
    """Reads a DeeperForensics-1.0 release.

    Args:
        root: the release folder.
        perturbation: the folder of ``manipulated_videos`` to read (``end_to_end``: the clean fakes).
        max_real_per_actor: real videos kept per actor (None: all).
        unsplit: split of the real videos of actors with no listed fake (``test`` or ``hash``).
    """

    key = "deeperforensics"

    def __init__(
        self,
        root: str | os.PathLike | None,
        perturbation: str = "end_to_end",
        max_real_per_actor: int | None = None,
        unsplit: str = "test",
    ) -> None:
        super().__init__(root)
        if max_real_per_actor is not None and max_real_per_actor < 1:
            raise ReleaseConfigError(f"max_real_per_actor must be at least 1 or null, got {max_real_per_actor}")
        self.perturbation = perturbation
        self.max_real_per_actor = max_real_per_actor
        self.unsplit = check_unsplit(unsplit)

    def layout_fmt(self) -> dict[str, str]:
        return {"perturbation": self.perturbation}

    def scan(self) -> tuple[pd.DataFrame, LayoutReport]:
        root = self.resolved_root()
        report = LayoutReport(self.key, root)
        known = {"manipulated_videos", "source_videos", "lists"}
        report.unexpected_entries(known)
        split_of = self._read_lists(root, report)
        fakes_dir = root / "manipulated_videos" / self.perturbation
        if not fakes_dir.is_dir():
            report.missing.append(rel(fakes_dir, root))
        fakes, other = list_files(fakes_dir, VIDEO_EXTENSIONS)
        report.unexpected += [rel(p, root) for p in other]
        rows: list[dict] = []
        actor_splits: dict[str, Counter] = {}
        for path in fakes:
            split = split_of.get(path.name)
            if split is None:
                report.exclude(f"in {rel(fakes_dir, root)} are in no split list")
                continue
            actor = path.stem.rsplit("_", 1)[-1]
            actor_splits.setdefault(actor, Counter())[split] += 1
            rows.append(self._row(split, f"{self.perturbation}/{path.stem}", 1, self.perturbation, rel(path, root)))
        for name in sorted(set(split_of) - {p.name for p in fakes}):
            report.add_absent(LISTS, name)
        rows += self._real_rows(root, actor_splits, report)
        return video_table(rows), report

    def _row(self, split: str, video_id: str, label: int, method: str, source: str) -> dict:
        return {"dataset": self.key, "split": split, "video_id": video_id, "label": label, "method": method,
                "source": source}  # fmt: skip

    def _real_rows(self, root: Path, actor_splits: dict[str, Counter], report: LayoutReport) -> list[dict]:
        source = root / "source_videos"
        if not source.is_dir():
            report.missing.append("source_videos")
            return []
        rows = []
        for actor_dir in sorted(p for p in source.iterdir() if p.is_dir() and p.name[0] != "."):
            videos = sorted(p for p in actor_dir.rglob("*") if p.suffix.lower() in VIDEO_EXTENSIONS and p.is_file())
            if self.max_real_per_actor is not None and len(videos) > self.max_real_per_actor:
                kept = sorted(videos, key=lambda p: (stable_fraction(rel(p, root)), p))[: self.max_real_per_actor]
                report.exclude(f"of actor {actor_dir.name} beyond max_real_per_actor", len(videos) - len(kept))
                videos = sorted(kept)
            votes = actor_splits.get(actor_dir.name)
            if votes:
                best = max(votes.values())
                leaders = [s for s in SPLITS if votes.get(s) == best]
                split = leaders[0] if len(leaders) == 1 else "test"
            else:
                split = unsplit_split(actor_dir.name, self.unsplit)
            for path in videos:
                inner = path.relative_to(actor_dir).with_suffix("").as_posix()
                rows.append(self._row(split, f"source/{actor_dir.name}/{inner}", 0, "real", rel(path, root)))
        return rows

    @staticmethod
    def _read_lists(root: Path, report: LayoutReport) -> dict[str, str]:
        """File name of each listed fake -> its split."""
        split_of: dict[str, str] = {}
        for split in SPLITS:
            path = root / LISTS / f"{split}.txt"
            if not path.is_file():
                if split == "test":  # enough for a test set; train.txt and val.txt only add splits
                    report.missing.append(f"{LISTS}/{split}.txt")
                continue
            for line in path.read_text().splitlines():
                name = Path(line.strip()).name
                if name:
                    split_of[name if Path(name).suffix else f"{name}.mp4"] = split
        return split_of
