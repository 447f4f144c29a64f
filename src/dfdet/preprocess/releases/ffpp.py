"""FaceForensics++ (Rössler et al. 2019) as downloaded by its official script.

Layout (``c0`` is an alias of ``raw``)::

    <root>/original_sequences/{youtube,actors}/{raw,c23,c40}/videos/000.mp4, 01__kitchen_pan.mp4 ...
    <root>/manipulated_sequences/<method>/{raw,c23,c40}/videos/000_003.mp4, 01_02__kitchen_pan__YVGY8LOK.mp4 ...
    <splits_dir>/{train,val,test}.json     default <root>/splits (copy them from the FaceForensics repository)

Splits: each split file is a list of pairs ``[a, b]``; the originals ``a`` and ``b`` and the fakes ``a_b`` and
``b_a`` belong to that split. The actor videos (``actors`` originals and ``DeepFakeDetection`` fakes) have no
official split; they are split by actor (the target actor for a fake) with :func:`~dfdet.data.layouts.pick_groups`.
Video ids: ``youtube/000``, ``actors/01__kitchen_pan``, ``Deepfakes/000_003``, ... A fake ``a_b`` (the face of
``b`` put into video ``a``) has ``original`` ``youtube/a``; ``01_02__kitchen_pan__YVGY8LOK`` has
``actors/01__kitchen_pan``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from dfdet.data.layouts import LayoutReport, list_files, pick_groups, video_table
from dfdet.preprocess.releases.base import Release, ReleaseConfigError, check_fraction, rel

YOUTUBE_METHODS = ("Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures", "FaceShifter")
ACTOR_METHODS = ("DeepFakeDetection",)
METHODS = YOUTUBE_METHODS + ACTOR_METHODS
COMPRESSIONS = ("raw", "c23", "c40")
SPLITS = ("train", "val", "test")
METHOD_ENTRIES = {"raw", "c23", "c40", "masks"}  # what a method or original folder may hold


class FaceForensicsRelease(Release):
    """Reads a FaceForensics++ release.

    Args:
        root: the release folder.
        compression: ``raw`` (alias ``c0``), ``c23`` or ``c40``.
        methods: manipulation methods to include (of :data:`METHODS`); their originals come with them
            (``youtube`` for the first five, ``actors`` for DeepFakeDetection).
        splits_dir: folder of the official ``train.json``/``val.json``/``test.json``; default ``<root>/splits``.
        actor_val_fraction: fraction of actors in val (actor videos only).
        actor_test_fraction: fraction of actors in test (actor videos only); 1 puts every actor video in test (DFD
            as a cross-dataset test set, ``data=dfd``).
    """

    key = "ffpp"

    def __init__(
        self,
        root: str | os.PathLike | None,
        compression: str = "c23",
        methods: Sequence[str] = ("Deepfakes", "Face2Face", "FaceSwap", "NeuralTextures"),
        splits_dir: str | os.PathLike | None = None,
        actor_val_fraction: float = 0.15,
        actor_test_fraction: float = 0.15,
    ) -> None:
        super().__init__(root)
        compression = "raw" if compression == "c0" else compression
        if compression not in COMPRESSIONS:
            raise ReleaseConfigError(f"FaceForensics++ compression must be raw (c0), c23 or c40, got '{compression}'")
        unknown = [m for m in methods if m not in METHODS]
        if unknown or not methods:
            raise ReleaseConfigError(f"Unknown FaceForensics++ methods {unknown}; choose from {', '.join(METHODS)}")
        self.compression = compression
        self.methods = tuple(methods)
        self.splits_dir = splits_dir
        self.actor_fractions = (
            check_fraction("actor_val_fraction", actor_val_fraction),
            1.0 if actor_test_fraction == 1 else check_fraction("actor_test_fraction", actor_test_fraction),
        )

    def layout_fmt(self) -> dict[str, str]:
        return {"compression": self.compression}

    def originals(self) -> list[str]:
        """Original-sequence folders needed by the selected methods."""
        kinds = ["youtube"] if any(m in YOUTUBE_METHODS for m in self.methods) else []
        return kinds + (["actors"] if any(m in ACTOR_METHODS for m in self.methods) else [])

    def scan(self) -> tuple[pd.DataFrame, LayoutReport]:
        root = self.resolved_root()
        report = LayoutReport(self.key, root)
        self._report_unexpected(root, report)
        youtube_split = self._read_splits(root, report) if "youtube" in self.originals() else {}
        found: dict[str, list[Path]] = {}  # folder name (youtube, actors, method) -> videos on disk
        for kind, parent in [(o, "original_sequences") for o in self.originals()] + [
            (m, "manipulated_sequences") for m in self.methods
        ]:
            folder = root / parent / kind / self.compression / "videos"
            if not folder.is_dir():
                report.missing.append(rel(folder, root))
                continue
            videos, other = list_files(folder, (".mp4",))
            report.unexpected += [rel(p, root) for p in other]
            found[kind] = videos
        if any(m not in found for m in self.methods):
            videos = sorted((root / "manipulated_sequences").glob(f"*/{self.compression}/videos"))
            present = [p.parent.parent.name for p in videos if p.parent.parent.name in METHODS]
            if present:
                report.hints.append(
                    f"To use the methods present, set data.source.release.methods=[{','.join(present)}]"
                )
        rows = self._youtube_rows(root, found, youtube_split, report) + self._actor_rows(found)
        return video_table(rows), report

    def _report_unexpected(self, root: Path, report: LayoutReport) -> None:
        known = {"original_sequences": {"youtube", "actors"}, "manipulated_sequences": set(METHODS)}
        top_known = {*known, "splits"}
        report.unexpected_entries(top_known)
        for parent, names in known.items():
            if not (root / parent).is_dir():
                continue
            for entry in sorted((root / parent).iterdir()):
                if entry.name.startswith("."):
                    continue
                if entry.name not in names:
                    report.unexpected.append(rel(entry, root))
                elif entry.is_dir():
                    report.unexpected += [
                        rel(p, root)
                        for p in sorted(entry.iterdir())
                        if p.name not in METHOD_ENTRIES and p.name[0] != "."
                    ]

    def _read_splits(self, root: Path, report: LayoutReport) -> dict[str, str]:
        """Maps every youtube video id listed in the split files (``000``, ``000_003``, ...) to its split."""
        folder = Path(self.splits_dir).expanduser() if self.splits_dir is not None else root / "splits"
        where: dict[str, str] = {}
        for split in SPLITS:
            path = folder / f"{split}.json"
            if not path.is_file():
                report.missing.append(str(path.relative_to(root)) if path.is_relative_to(root) else str(path))
                continue
            try:
                pairs = json.loads(path.read_text())
            except (OSError, ValueError) as exc:
                report.missing.append(f"{path.name} (unreadable: {exc})")
                continue
            for i, pair in enumerate(pairs if isinstance(pairs, list) else [pairs]):
                if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(v, str) for v in pair)):
                    report.unexpected.append(f"{path.name} entry {i}: {pair!r} is not a pair of ids")
                    continue
                a, b = pair
                for vid in (a, b, f"{a}_{b}", f"{b}_{a}"):
                    if where.get(vid, split) != split:
                        report.unexpected.append(f"{path.name}: '{vid}' is also in {where[vid]}.json")
                    where.setdefault(vid, split)
        return where

    def _youtube_rows(
        self, root: Path, found: dict[str, list[Path]], split_of: dict[str, str], report: LayoutReport
    ) -> list[dict]:
        rows = []
        originals = {v for v in split_of if "_" not in v}
        fakes = {v for v in split_of if "_" in v}
        for kind in ["youtube", *[m for m in self.methods if m in YOUTUBE_METHODS]]:
            if kind not in found:
                continue
            on_disk = {p.stem: p for p in found[kind]}
            expected = originals if kind == "youtube" else fakes
            parent = "original_sequences" if kind == "youtube" else "manipulated_sequences"
            for vid in sorted(expected - on_disk.keys()):
                report.add_absent(f"splits/*.json ({parent}/{kind}/{self.compression})", f"{vid}.mp4")
            report.exclude(f"in {parent}/{kind} are in no split file", len(on_disk.keys() - expected))
            for stem in sorted(on_disk.keys() & expected):
                rows.append(
                    {
                        "dataset": self.key,
                        "split": split_of[stem],
                        "video_id": f"{kind}/{stem}",
                        "label": int(kind != "youtube"),
                        "method": "real" if kind == "youtube" else kind,
                        "source": rel(on_disk[stem], root),
                        "original": "" if kind == "youtube" else f"youtube/{stem.split('_', 1)[0]}",
                    }
                )
        return rows

    def _actor_rows(self, found: dict[str, list[Path]]) -> list[dict]:
        """Actor videos (no official split): split by the (target) actor, the number before the first '_'."""
        videos = [(kind, p) for kind in ("actors", *ACTOR_METHODS) if kind in found for p in found[kind]]
        actors = {p.stem.split("_", 1)[0] for _, p in videos}
        val_fraction, test_fraction = self.actor_fractions
        test = pick_groups(actors, test_fraction)
        val = pick_groups(actors - test, val_fraction * len(actors) / max(len(actors - test), 1))
        root = self.resolved_root()
        rows = []
        for kind, path in videos:
            actor = path.stem.split("_", 1)[0]
            rows.append(
                {
                    "dataset": self.key,
                    "split": "test" if actor in test else "val" if actor in val else "train",
                    "video_id": f"{kind}/{path.stem}",
                    "label": int(kind != "actors"),
                    "method": "real" if kind == "actors" else kind,
                    "source": rel(path, root),
                    "original": "" if kind == "actors" else _actor_original(path.stem),
                }
            )
        return rows


def _actor_original(stem: str) -> str:
    """The actor video a DeepFakeDetection fake was made from: ``01_02__kitchen_pan__YVGY8LOK`` (target actor 01,
    source actor 02, scene, a random suffix) comes from ``actors/01__kitchen_pan``; "" for another name."""
    actors, sep, rest = stem.partition("__")
    scene = rest.rsplit("__", 1)[0] if "__" in rest else ""
    return f"actors/{actors.split('_', 1)[0]}__{scene}" if sep and scene else ""
