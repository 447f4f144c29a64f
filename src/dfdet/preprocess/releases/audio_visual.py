"""The audio-visual deepfake datasets as released: FakeAVCeleb v1.2, LAV-DF and AV-Deepfake1M (and ++).

Each reader returns the video table like the face releases (``preprocess.py`` crops the faces; the audio-visual
reader reads the sound from the source video) and, through :meth:`annotations`, what these datasets add per
video, carried into the manifest by :class:`~dfdet.data.sources.ProcessedSource`:

- ``video_label``, ``audio_label``: 0/1, whether the face and the voice are manipulated (FakeAVCeleb's four
  categories, LAV-DF's ``modify_video`` / ``modify_audio``, AV-Deepfake1M's ``modify_type``);
- ``fake_segments``, ``visual_fake_segments``, ``audio_fake_segments`` (LAV-DF and AV-Deepfake1M): JSON lists of
  ``[start, end]`` in seconds (LAV-DF has only the first), what temporal localisation is scored on.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from dfdet.data.layouts import LayoutReport, pick_groups, video_table
from dfdet.errors import ManifestError
from dfdet.preprocess.releases.base import Release, check_fraction

FAKEAVCELEB_CATEGORIES = {  # type -> (video_label, audio_label)
    "RealVideo-RealAudio": (0, 0),
    "FakeVideo-RealAudio": (1, 0),
    "RealVideo-FakeAudio": (0, 1),
    "FakeVideo-FakeAudio": (1, 1),
}
ANNOTATION_COLUMNS = ("video_label", "audio_label", "fake_segments", "visual_fake_segments", "audio_fake_segments")


def _segments(value: Any, where: str) -> str:
    """A JSON list of ``[start, end]`` seconds, validated."""
    rows = value if isinstance(value, list) else None
    if rows is None or not all(isinstance(r, list) and len(r) == 2 and r[0] <= r[1] for r in rows):
        raise ManifestError(f"{where}: expected a list of [start, end] seconds, got {value!r}")
    return json.dumps([[float(a), float(b)] for a, b in rows])


def _read_json_list(path: Path, report: LayoutReport) -> list[dict]:
    if not path.is_file():
        report.missing.append(path.name)
        return []
    try:
        data = json.loads(path.read_text())
    except ValueError as exc:
        report.missing.append(f"{path.name} (not valid JSON: {exc})")
        return []
    if not isinstance(data, list) or not all(isinstance(e, dict) and "file" in e for e in data):
        report.missing.append(f"{path.name} (expected a JSON list of objects with 'file')")
        return []
    return data


class _AnnotatedRelease(Release):
    """A release whose readers keep per-video annotations (:data:`ANNOTATION_COLUMNS`) besides the video table."""

    def __init__(self, root: str | os.PathLike | None) -> None:
        super().__init__(root)
        self._annotations: pd.DataFrame | None = None

    def annotations(self) -> pd.DataFrame:
        """One row per video of the table: ``source`` and the annotation columns this dataset has."""
        if self._annotations is None:
            self.scan()
        assert self._annotations is not None
        return self._annotations

    def _table(self, rows: list[dict], notes: list[dict], report: LayoutReport) -> tuple[pd.DataFrame, LayoutReport]:
        self._annotations = pd.DataFrame(notes)
        return video_table(rows), report


class FakeAVCelebRelease(_AnnotatedRelease):
    """FakeAVCeleb v1.2 (Khalid et al. 2021): 500 real VoxCeleb2 identities, face swaps, reenactment (Wav2Lip) and
    voice cloning (SV2TTS) combined into four categories.

    Layout::

        <root>/meta_data.csv   source,target1,target2,method,category,type,race,gender,path,  (the header names 9
                               columns, rows have 10: ..., gender, <file name>, FakeAVCeleb/<type>/<race>/<gender>/<id>)
        <root>/<type>/<race>/<gender>/<id>/<file name>.mp4, type one of RealVideo-RealAudio, FakeVideo-RealAudio,
                               RealVideo-FakeAudio, FakeVideo-FakeAudio

    There is no official split: val and test are carved by the *source identity* (``val_fraction``,
    ``test_fraction`` of the identities, :func:`~dfdet.data.layouts.pick_groups`), so a real video and its fakes stay
    together. ``method`` is the release's (``real``, ``wav2lip``, ``faceswap-wav2lip``, ...); ``video_label`` and
    ``audio_label`` come from the category. Video ids: ``<type>/<race>/<gender>/<id>/<stem>``.
    """

    key = "fakeavceleb"

    def __init__(self, root: str | os.PathLike | None, val_fraction: float = 0.1, test_fraction: float = 0.2) -> None:
        super().__init__(root)
        self.val_fraction = check_fraction("val_fraction", val_fraction)
        self.test_fraction = check_fraction("test_fraction", test_fraction)

    def scan(self) -> tuple[pd.DataFrame, LayoutReport]:
        root = self.resolved_root()
        report = LayoutReport(self.key, root)
        meta = root / "meta_data.csv"
        if not meta.is_file():
            report.missing.append("meta_data.csv")
            return self._table([], [], report)
        entries = []
        with meta.open(newline="") as f:
            for n, fields in enumerate(csv.reader(f), start=1):
                if n == 1 or not any(fields):
                    continue
                fields = [x.strip() for x in fields]
                if len(fields) < 10 or fields[5] not in FAKEAVCELEB_CATEGORIES:
                    report.unexpected.append(f"meta_data.csv line {n}: {','.join(fields)[:80]}")
                    continue
                folder = Path(*Path(fields[9]).parts[1:]) if fields[9].startswith("FakeAVCeleb") else Path(fields[9])
                entries.append((fields[0], fields[3], fields[5], (folder / fields[8]).as_posix()))
        groups = {source for source, *_ in entries}
        test = pick_groups(groups, self.test_fraction)
        val = pick_groups(groups - test, self.val_fraction / max(1e-9, 1 - self.test_fraction))
        rows, notes = [], []
        for source, method, kind, path in entries:
            if not (root / path).is_file():
                report.add_absent("meta_data.csv", path)
                continue
            video, audio = FAKEAVCELEB_CATEGORIES[kind]
            rows.append(
                {
                    "dataset": self.key,
                    "split": "test" if source in test else "val" if source in val else "train",
                    "video_id": path.rsplit(".", 1)[0],
                    "label": int(video or audio),
                    "method": "real" if not (video or audio) else method,
                    "source": path,
                }
            )
            notes.append({"source": path, "video_label": video, "audio_label": audio, "category": kind})
        return self._table(rows, notes, report)


class LAVDFRelease(_AnnotatedRelease):
    """LAV-DF (Cai et al. 2022, "Do you really mean that?"): content-driven partial audio-visual manipulations of
    VoxCeleb2 speech, each replacing a few words of the face, the voice or both.

    Layout::

        <root>/metadata.json    [{"file": "train/000001.mp4", "split": "train" | "dev" | "test", "n_fakes": 1,
                                  "fake_periods": [[start, end], ...] (seconds), "modify_video": bool,
                                  "modify_audio": bool, "original": ..., "duration": ...}, ...]
        <root>/{train,dev,test}/<name>.mp4

    Splits: the release's (``dev`` is our val). A video is fake when it has fake periods. Video ids: the file
    without its extension.
    """

    key = "lavdf"

    def scan(self) -> tuple[pd.DataFrame, LayoutReport]:
        root = self.resolved_root()
        report = LayoutReport(self.key, root)
        splits = {"train": "train", "dev": "val", "test": "test"}
        rows, notes = [], []
        for entry in _read_json_list(root / "metadata.json", report):
            file, split = str(entry["file"]), splits.get(str(entry.get("split")))
            if split is None:
                report.unexpected.append(f"metadata.json: {file} has split {entry.get('split')!r}")
                continue
            if not (root / file).is_file():
                report.add_absent("metadata.json", file)
                continue
            periods = _segments(entry.get("fake_periods", []), f"metadata.json: {file}")
            fake = int(bool(json.loads(periods)))
            video, audio = int(bool(entry.get("modify_video"))), int(bool(entry.get("modify_audio")))
            method = {(1, 1): "both_modified", (1, 0): "visual_modified", (0, 1): "audio_modified"}.get((video, audio))
            rows.append(
                {
                    "dataset": self.key,
                    "split": split,
                    "video_id": file.rsplit(".", 1)[0],
                    "label": fake,
                    "method": method if fake and method else "fake" if fake else "real",
                    "source": file,
                }
            )
            notes.append({"source": file, "video_label": video, "audio_label": audio, "fake_segments": periods})
        return self._table(rows, notes, report)


class AVDeepfake1MRelease(_AnnotatedRelease):
    """AV-Deepfake1M (Cai et al. 2024) and AV-Deepfake1M++ (2025): LLM-driven word-level replacements, insertions
    and deletions in the face, the voice or both of VoxCeleb2 talking heads.

    Layout::

        <root>/train_metadata.json, <root>/val_metadata.json
                [{"file": "<path>.mp4", "original": ..., "modify_type": "real" | "visual_modified" |
                  "audio_modified" | "both_modified", "fake_segments": [[start, end], ...],
                  "visual_fake_segments": [...], "audio_fake_segments": [...], "video_frames": ..., ...}, ...]
        <root>/train/<file>, <root>/val/<file>

    The test set's labels are withheld (the challenge server scores it), so the official ``val`` set is our test
    and val is carved from train by the ``original`` video (``val_fraction`` of them; a video and its fakes stay
    together). Video ids: ``<subset>/<file without extension>``.
    """

    key = "avdeepfake1m"

    def __init__(self, root: str | os.PathLike | None, val_fraction: float = 0.05) -> None:
        super().__init__(root)
        self.val_fraction = check_fraction("val_fraction", val_fraction)

    def source_path(self, source: str) -> Path:
        return self.resolved_root() / source

    def scan(self) -> tuple[pd.DataFrame, LayoutReport]:
        root = self.resolved_root()
        report = LayoutReport(self.key, root)
        subsets = {s: _read_json_list(root / f"{s}_metadata.json", report) for s in ("train", "val")}
        originals = {str(e.get("original") or e["file"]) for e in subsets["train"]}
        carved = pick_groups(originals, self.val_fraction)
        rows, notes = [], []
        for subset, entries in subsets.items():
            for entry in entries:
                file = f"{subset}/{entry['file']}"
                if not (root / file).is_file():
                    report.add_absent(f"{subset}_metadata.json", file)
                    continue
                where = f"{subset}_metadata.json: {entry['file']}"
                segments = {k: _segments(entry.get(k, []), where) for k in ANNOTATION_COLUMNS[2:]}
                kind = str(entry.get("modify_type", "real")).replace("-", "_")
                group = str(entry.get("original") or entry["file"])
                split = "test" if subset == "val" else "val" if group in carved else "train"
                rows.append(
                    {
                        "dataset": self.key,
                        "split": split,
                        "video_id": file.rsplit(".", 1)[0],
                        "label": int(kind != "real"),
                        "method": kind,
                        "source": file,
                    }
                )
                video, audio = (
                    int(kind in ("visual_modified", "both_modified")),
                    int(kind.startswith(("audio", "both"))),
                )
                notes.append({"source": file, "video_label": video, "audio_label": audio, **segments})
        return self._table(rows, notes, report)


class LRSRelease(Release):
    """LRS2 / LRS3-style lip-reading sets (Afouras et al. 2018): real talking heads only, for training the learned
    sync model (``model=syncnet``, whose contrastive loss needs real clips alone) or as reals beside fakes.

    Layout::

        <root>/{pretrain,trainval,main,test}/<speaker or video id>/<utterance>.mp4 (+ .txt transcripts, ignored)
        <root>/{train,val,test}.txt (optional, LRS2: lines "<id>/<utterance>" of main/)

    Splits: ``test/`` (and the lines of ``test.txt``) are test; ``val.txt`` lines are val; the other speakers go to
    val by a hash of their id (``val_fraction``, :func:`~dfdet.data.layouts.pick_groups`), the rest to train. Every
    video is real (``method`` ``real``). Video ids: the path without its extension.
    """

    key = "lrs"
    FOLDERS = ("pretrain", "trainval", "main", "test")

    def __init__(self, root: str | os.PathLike | None, val_fraction: float = 0.05) -> None:
        super().__init__(root)
        self.val_fraction = check_fraction("val_fraction", val_fraction)

    def _listed(self, root: Path, name: str) -> set[str]:
        path = root / f"{name}.txt"
        if not path.is_file():
            return set()
        return {f"main/{line.split()[0]}" for line in path.read_text().splitlines() if line.strip()}

    def scan(self) -> tuple[pd.DataFrame, LayoutReport]:
        root = self.resolved_root()
        report = LayoutReport(self.key, root)
        files = [p for f in self.FOLDERS if (root / f).is_dir() for p in sorted((root / f).glob("*/*.mp4"))]
        if not files:
            report.missing.append("pretrain/, trainval/, main/ or test/ with <id>/<utterance>.mp4")
        test, val = self._listed(root, "test"), self._listed(root, "val")
        speakers = {p.parent.name for p in files if p.parts[-3] != "test"}
        carved = pick_groups(speakers, self.val_fraction) if not val else set()
        rows = []
        for path in files:
            source = path.relative_to(root).as_posix()
            stem = source.rsplit(".", 1)[0]
            top, speaker = source.split("/")[0], path.parent.name
            split = "test" if top == "test" or stem in test else "val" if stem in val or speaker in carved else "train"
            rows.append(
                {"dataset": self.key, "split": split, "video_id": stem, "label": 0, "method": "real", "source": source}
            )
        return video_table(rows), report
