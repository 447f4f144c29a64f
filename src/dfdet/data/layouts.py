"""Release layouts of the public datasets: the quick check of ``data.root``, the video table and the layout report.

Two levels of checking:

- :func:`check_layout` is the quick structural check run before training: does ``data.root`` look like the release?
- the release readers of :mod:`dfdet.preprocess.releases` scan a release completely and return a *video table*
  (:data:`VIDEO_COLUMNS`, one row per video) with a :class:`LayoutReport` naming every missing part (fatal),
  every unexpected entry (ignored) and every video listed in a split file or metadata but absent on disk (counted,
  not fatal).
"""

from __future__ import annotations

import glob
import hashlib
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from dfdet.errors import DatasetNotFoundError

# One row per video: split in train/val/test, label 0 real / 1 fake, method ("real" for real videos),
# source = path of the video (or image) relative to the release root, original = the video_id of the real video a
# fake was made from ("" for reals and where the release does not say), for paired sampling (data.paired).
VIDEO_COLUMNS = ("dataset", "split", "video_id", "label", "method", "source", "original")


@dataclass(frozen=True)
class Layout:
    """A dataset's release layout: display name, required patterns under the root, and a sketch.

    Each required entry is a glob pattern, or several separated by ``|`` of which one must match.
    """

    name: str
    required: tuple[str, ...]
    sketch: str


LAYOUTS: dict[str, Layout] = {
    "ffpp": Layout(
        name="FaceForensics++",
        required=("original_sequences/*/{compression}/videos", "manipulated_sequences/*/{compression}/videos"),
        sketch=(
            "<root>/original_sequences/{{youtube,actors}}/{compression}/videos/000.mp4 ...\n"
            "<root>/manipulated_sequences/{{Deepfakes,Face2Face,FaceSwap,NeuralTextures,FaceShifter,"
            "DeepFakeDetection}}/{compression}/videos/000_003.mp4 ...\n"
            "<root>/splits/{{train,val,test}}.json (official FaceForensics++ splits; or set data.source.release."
            "splits_dir)"
        ),
    ),
    "celebdf": Layout(
        name="Celeb-DF (v2)",
        required=("Celeb-real", "YouTube-real", "Celeb-synthesis", "List_of_testing_videos.txt"),
        sketch=(
            "<root>/Celeb-real/id0_0000.mp4 ...\n<root>/YouTube-real/00000.mp4 ...\n"
            "<root>/Celeb-synthesis/id0_id1_0000.mp4 ...\n<root>/List_of_testing_videos.txt"
        ),
    ),
    "dfdc": Layout(
        name="DFDC",
        required=("dfdc_train_part_*/metadata.json|*/labels.csv|*/metadata.json|dataset.json",),
        sketch=(
            "<root>/dfdc_train_part_0/metadata.json and *.mp4 ... (one folder per downloaded part), and/or\n"
            "<root>/<test folder>/labels.csv or metadata.json with is_fake (public test set), and/or\n"
            "<root>/dataset.json (DFDC preview)"
        ),
    ),
    "deeperforensics": Layout(
        name="DeeperForensics-1.0",
        required=("manipulated_videos/{perturbation}", "source_videos", "lists/splits/test.txt"),
        sketch=(
            "<root>/manipulated_videos/{perturbation}/000_M101.mp4 ... (end_to_end, or a perturbed variant)\n"
            "<root>/source_videos/M101/.../*.mp4 ... (the actors' real videos, any depth)\n"
            "<root>/lists/splits/{{train,val,test}}.txt"
        ),
    ),
    "wilddeepfake": Layout(
        name="WildDeepfake",
        required=("real_test|real_train", "fake_test|fake_train"),
        sketch=(
            "<root>/{{real,fake}}_{{train,test}}/<video>/.../<frame>.png ... (the release's .tar.gz archives "
            "unpacked in place: tar -xzf <n>.tar.gz; each folder of frames is one face sequence)"
        ),
    ),
    "ffiw": Layout(
        name="FFIW-10K",
        required=("source", "target"),
        sketch=(
            "<root>/source/{{train,val,test}}/<name>.mp4 ... (real)\n"
            "<root>/target/{{train,val,test}}/<name>.mp4 ... (the same videos with manipulated faces)"
        ),
    ),
    "uadfv": Layout(
        name="UADFV",
        required=("real", "fake"),
        sketch="<root>/real/0000.mp4 ... and <root>/fake/0000_fake.mp4 ...",
    ),
    "df40": Layout(
        name="DF40",
        required=("*/*",),
        sketch=(
            "<root>/<method>/{{ff,cdf}}/frames/<video>/<frame>.png ... (the processed test or training archives, "
            "fake frames only)\nreal frames: data.source.release.real_dirs=[...] (folders of per-video frame "
            "folders, e.g. the FF++ and Celeb-DF real frames linked from the DF40 README)"
        ),
    ),
    "fakeavceleb": Layout(
        name="FakeAVCeleb v1.2",
        required=("meta_data.csv", "RealVideo-RealAudio"),
        sketch=(
            "<root>/meta_data.csv\n<root>/{{RealVideo-RealAudio,FakeVideo-RealAudio,RealVideo-FakeAudio,"
            "FakeVideo-FakeAudio}}/<race>/<gender>/<id>/<name>.mp4"
        ),
    ),
    "lavdf": Layout(
        name="LAV-DF",
        required=("metadata.json", "train|dev|test"),
        sketch="<root>/metadata.json (file, split, fake_periods, modify_video, modify_audio)\n"
        "<root>/{{train,dev,test}}/<name>.mp4",
    ),
    "avdeepfake1m": Layout(
        name="AV-Deepfake1M",
        required=("train_metadata.json|val_metadata.json", "train|val"),
        sketch="<root>/{{train,val}}_metadata.json (file, modify_type, fake_segments, visual_fake_segments, "
        "audio_fake_segments)\n<root>/{{train,val}}/<file>",
    ),
    "lrs": Layout(
        name="LRS2/LRS3-style talking heads",
        required=("pretrain|trainval|main|test",),
        sketch="<root>/{{pretrain,trainval,main,test}}/<speaker>/<utterance>.mp4 (real only; optional "
        "<root>/{{train,val,test}}.txt)",
    ),
    "folder": Layout(
        name="a folder of your own",
        required=("real", "fake"),
        sketch="<root>/real/<videos or images> and <root>/fake/<videos or images>",
    ),
}


def check_layout(key: str, root: str | os.PathLike | None, **fmt: str) -> Path:
    """Checks that ``root`` holds dataset ``key`` in its release layout (structure only, quick).

    Args:
        key: one of :data:`LAYOUTS`.
        root: the release folder (``data.root``); None means not configured.
        **fmt: values for the placeholders in the layout patterns (e.g. ``compression="c23"``).

    Returns:
        The resolved root.

    Raises:
        DatasetNotFoundError: naming the root, every missing part and the expected layout.
    """
    layout = LAYOUTS[key]
    path = resolve_root(key, root, **fmt)
    missing = []
    for entry in layout.required:
        options = [p.format(**fmt) for p in entry.split("|")]
        if not any(glob.glob(str(path / p)) for p in options):
            missing.append(" or ".join(options))
    if missing:
        raise DatasetNotFoundError(
            f"{layout.name} at {path} is incomplete; missing: {', '.join(missing)}. {layout_help(key, **fmt)}"
        )
    return path


def root_or_raise(name: str, root: str | os.PathLike | None, sketch: str, how: str | None = None) -> Path:
    """The resolved dataset folder, or a :class:`DatasetNotFoundError` naming ``name`` when it is unset or absent.

    Args:
        name: the dataset's name in the message.
        root: ``data.root``.
        sketch: the expected layout (shown after how to set the root).
        how: the whole help text instead (how to set the root and the layout).
    """
    if how is None:
        how = (
            f"Set data.root=/path/to/it (on the command line or in conf/local/default.yaml). Expected layout:\n{sketch}"
        )
    if root is None or str(root) in ("", "???"):
        raise DatasetNotFoundError(f"{name}: data.root is not set. {how}")
    path = Path(root).expanduser()
    if not path.is_dir():
        raise DatasetNotFoundError(f"{name} not found: data.root={path} does not exist. {how}")
    return path.resolve()


def resolve_root(key: str, root: str | os.PathLike | None, **fmt: str) -> Path:
    """The resolved release folder of dataset ``key``; raises :class:`DatasetNotFoundError` if unset or absent."""
    return root_or_raise(LAYOUTS[key].name, root, "", how=layout_help(key, **fmt))


def layout_help(key: str, **fmt: str) -> str:
    """How to point ``data.root`` at a release, with the expected layout of dataset ``key`` (one line)."""
    sketch = LAYOUTS[key].sketch.format(**fmt).replace("\n", "; ")
    return (
        f"Set data.root=/path/to/release (on the command line or in conf/local/default.yaml). Expected layout: {sketch}"
    )


@dataclass
class LayoutReport:
    """What a full scan of a release found besides the videos it uses.

    Attributes:
        key: layout key (``ffpp``, ...).
        root: the release folder.
        missing: required parts that are not there (fatal), as paths relative to the root.
        unexpected: entries the release does not have, or malformed lines (ignored, reported).
        absent: listed in a split file or metadata but not on disk, by list; a few examples are kept per list.
        absent_counts: number of such videos per list.
        excluded: videos on disk left out of the table, by reason (e.g. not in any split file).
        hints: how to fix the missing parts, added to the error message.
    """

    key: str
    root: Path
    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    absent: dict[str, list[str]] = field(default_factory=dict)
    absent_counts: dict[str, int] = field(default_factory=dict)
    excluded: dict[str, int] = field(default_factory=dict)
    hints: list[str] = field(default_factory=list)

    def add_absent(self, where: str, relpath: str, keep: int = 3) -> None:
        """Counts one video listed by ``where`` but absent on disk."""
        self.absent_counts[where] = self.absent_counts.get(where, 0) + 1
        examples = self.absent.setdefault(where, [])
        if len(examples) < keep:
            examples.append(relpath)

    def unexpected_entries(self, known: Iterable[str]) -> None:
        """Reports every entry directly in the root that is not in ``known`` (hidden ones are skipped)."""
        known = set(known)
        self.unexpected += [p.name for p in sorted(self.root.iterdir()) if p.name not in known and p.name[0] != "."]

    def exclude(self, reason: str, count: int = 1) -> None:
        """Counts videos on disk left out of the table for ``reason``."""
        if count:
            self.excluded[reason] = self.excluded.get(reason, 0) + count

    def lines(self) -> list[str]:
        """The report as human-readable lines (empty when there is nothing to say)."""
        out = [f"missing: {m}" for m in self.missing]
        out += [f"unexpected (ignored): {u}" for u in self.unexpected]
        for where, count in self.absent_counts.items():
            out.append(f"absent on disk: {count} video(s) listed in {where}, e.g. {', '.join(self.absent[where])}")
        out += [f"excluded: {n} video(s) {reason}" for reason, n in self.excluded.items()]
        return out

    def raise_if_unusable(self, table: pd.DataFrame, **fmt: str) -> None:
        """Raises :class:`DatasetNotFoundError` when parts are missing or no video was found."""
        name = LAYOUTS[self.key].name
        if self.missing:
            raise DatasetNotFoundError(
                f"{name} at {self.root} is incomplete; missing: {', '.join(self.missing)}. "
                + "".join(f"{hint}. " for hint in self.hints)
                + layout_help(self.key, **fmt)
            )
        if table.empty:
            raise DatasetNotFoundError(f"{name} at {self.root}: no videos found. " + layout_help(self.key, **fmt))


def video_table(rows: Iterable[dict]) -> pd.DataFrame:
    """Builds the video table from row dicts with the keys of :data:`VIDEO_COLUMNS` (``original`` optional),
    sorted by split and video."""
    df = pd.DataFrame(list(rows), columns=list(VIDEO_COLUMNS))
    df["label"] = df["label"].astype("int64")
    df["original"] = df["original"].fillna("").astype(str)
    return df.sort_values(["split", "video_id"], kind="stable").reset_index(drop=True)


def stable_fraction(key: str) -> float:
    """A number in [0, 1) fixed by ``key`` alone (SHA-1), independent of the machine and of the other keys."""
    return int(hashlib.sha1(key.encode()).hexdigest()[:12], 16) / float(1 << 48)


def split_by_hash(key: str, val_fraction: float, test_fraction: float = 0.0) -> str:
    """``test`` if :func:`stable_fraction` of ``key`` < ``test_fraction``, then ``val`` for the next ``val_fraction``,
    else ``train``. Adding or removing other keys never moves this one."""
    u = stable_fraction(key)
    if u < test_fraction:
        return "test"
    return "val" if u < test_fraction + val_fraction else "train"


def pick_groups(groups: Iterable[str], fraction: float) -> set[str]:
    """The ``round(fraction * n)`` groups (at least one when ``fraction`` > 0 and n > 1) with the smallest hashes.

    Used to carve a validation set by identity: deterministic, and exact in size even for few groups.
    """
    unique = sorted(set(groups), key=lambda g: (stable_fraction(g), g))
    count = round(fraction * len(unique))
    if fraction > 0 and count == 0 and len(unique) > 1:
        count = 1
    return set(unique[:count])


def frame_sequences(folder: Path, extensions: tuple[str, ...]) -> list[Path]:
    """The folders under ``folder`` (itself included, any depth, hidden ones skipped) that directly hold files with
    one of ``extensions``: each is the frame sequence of one video; sorted."""
    if not folder.is_dir():
        return []
    found = []
    for path, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        if any(Path(f).suffix.lower() in extensions for f in files):
            found.append(Path(path))
    return sorted(found)


def list_files(folder: Path, extensions: tuple[str, ...]) -> tuple[list[Path], list[Path]]:
    """Files directly in ``folder`` with one of ``extensions`` (case-insensitive), and the other entries.

    Returns:
        (matching files sorted by name, other entries sorted by name); both empty when the folder is absent.
    """
    if not folder.is_dir():
        return [], []
    keep, other = [], []
    for entry in sorted(folder.iterdir()):
        if entry.suffix.lower() in extensions and entry.is_file():
            keep.append(entry)
        elif not entry.name.startswith("."):
            other.append(entry)
    return keep, other
