"""Where audio utterances come from: ASVspoof 2019 LA, a folder of your own, or the built-in synthetic set.

Each source checks its data up front (naming every missing part and the expected layout), prepares it once and
returns the manifest: one row per utterance with columns ``dataset``, ``split`` (train/val/test), ``utt_id``,
``speaker``, ``label`` (0 bona fide, 1 spoof), ``method`` (``real`` or the attack id, e.g. ASVspoof's ``A07``) and
``path`` (absolute).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from dfdet.data.audio.io import AUDIO_EXTENSIONS
from dfdet.data.audio.protocols import COLUMNS, file_in, float_column, missing_files, protocol_manifest, read_fields
from dfdet.data.audio.synthetic.generate import SyntheticAudioSpec, ensure_synthetic_audio
from dfdet.data.layouts import root_or_raise, stable_fraction
from dfdet.errors import DatasetNotFoundError

ASVSPOOF_SPLITS = {"train": ("train", "trn"), "val": ("dev", "trl"), "test": ("eval", "trl")}
ASVSPOOF_SKETCH = (
    "<root>/ASVspoof2019_LA_train/flac/LA_T_*.flac\n<root>/ASVspoof2019_LA_dev/flac/LA_D_*.flac\n"
    "<root>/ASVspoof2019_LA_eval/flac/LA_E_*.flac\n"
    "<root>/ASVspoof2019_LA_cm_protocols/ASVspoof2019.LA.cm.{train.trn,dev.trl,eval.trl}.txt\n"
    "(the LA/ folder of the ASVspoof 2019 release; protocol lines: SPEAKER UTTERANCE - SYSTEM KEY)"
)


def asvspoof_parts() -> dict[str, tuple[str, str]]:
    """Split -> (flac folder, protocol file), relative to the LA root."""
    return {
        split: (f"ASVspoof2019_LA_{part}/flac", f"ASVspoof2019_LA_cm_protocols/ASVspoof2019.LA.cm.{part}.{ext}.txt")
        for split, (part, ext) in ASVSPOOF_SPLITS.items()
    }


def check_asvspoof2019_la(root: str | os.PathLike | None) -> Path:
    """Checks an ASVspoof 2019 LA release folder; accepts the folder holding ``LA/`` too.

    Returns:
        The LA root.

    Raises:
        DatasetNotFoundError: naming the root, every missing folder or protocol file and the expected layout.
    """
    path = root_or_raise("ASVspoof 2019 LA", root, ASVSPOOF_SKETCH)
    needed = [p for pair in asvspoof_parts().values() for p in pair]
    missing = [p for p in needed if not (path / p).exists()]
    if missing and (path / "LA").is_dir() and not [p for p in needed if not (path / "LA" / p).exists()]:
        return (path / "LA").resolve()
    if missing:
        raise DatasetNotFoundError(
            f"ASVspoof 2019 LA at {path} is incomplete; missing: {', '.join(missing)}. Set data.root=/path/to/LA. "
            f"Expected layout:\n{ASVSPOOF_SKETCH}"
        )
    return path.resolve()


def read_asvspoof_protocol(path: Path, flac_dir: Path, split: str) -> pd.DataFrame:
    """Parses one CM protocol file (``SPEAKER UTTERANCE - SYSTEM KEY`` per line) into manifest rows."""
    table = read_fields(path, ("speaker", "utt_id", "unused", "system", "key"), {"key": ("bonafide", "spoof")})
    return protocol_manifest(
        table, "asvspoof2019_la", split, file_in(flac_dir, ".flac"), table["key"] == "spoof", table["system"]
    )


def read_asv_scores(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An ASVspoof 2019 ASV score file (``SOURCE KEY SCORE`` per line, ``KEY`` target, nontarget or spoof) as the
    (target, nontarget, spoof) score arrays the t-DCF needs."""
    table = read_fields(path, ("source", "key", "score"), {"key": ("target", "nontarget", "spoof")})
    scores = float_column(table, "score", path)
    return tuple(scores[table["key"] == k].to_numpy() for k in ("target", "nontarget", "spoof"))  # type: ignore[return-value]


class ASVspoof2019LASource:
    """ASVspoof 2019 logical access (Wang et al. 2020) in its release layout: train, dev (our val), eval (test).

    Args:
        root: the ``LA`` folder (or the folder holding it).
        check_files: verify up front that every utterance a protocol lists exists.
    """

    name = "asvspoof2019_la"
    id_column = "utt_id"
    tdcf_legacy = True  # min t-DCF as the ASVspoof 2019 evaluation plan defines it

    def __init__(self, root: str | None, check_files: bool = True) -> None:
        self.root = root
        self.check_files = check_files

    def check(self) -> None:
        check_asvspoof2019_la(self.root)

    def prepare(self) -> None:
        self.check()

    def manifest(self) -> pd.DataFrame:
        la = check_asvspoof2019_la(self.root)
        parts = [
            read_asvspoof_protocol(la / proto, la / flac, split) for split, (flac, proto) in asvspoof_parts().items()
        ]
        df = pd.concat(parts, ignore_index=True)
        if self.check_files:
            missing_files(df, f"ASVspoof 2019 LA at {la}")
        return df

    def asv_scores(self, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """The organisers' ASV scores of ``split`` (``ASVspoof2019_LA_asv_scores/ASVspoof2019.LA.asv.{dev,eval}.gi.
        trl.scores.txt``) for the min t-DCF; None when the release folder has none."""
        part = dict(val="dev", test="eval").get(split)
        path = (
            check_asvspoof2019_la(self.root)
            / f"ASVspoof2019_LA_asv_scores/ASVspoof2019.LA.asv.{part}.gi.trl.scores.txt"
        )
        return read_asv_scores(path) if part and path.is_file() else None


FOLDER_SKETCH = (
    "<root>/real/**/*.{wav,flac,mp3,m4a} and <root>/fake/**/*.{wav,flac,mp3,m4a}\n"
    "(fake/<method>/... names the attack), "
    "or <root>/{train,val,test}/{real,fake}/... for fixed splits"
)


class AudioFolderSource:
    """Your own audio: ``real/`` and ``fake/`` folders of wav/flac/mp3/m4a files.

    Without ``train/``, ``val/``, ``test/`` folders, each file goes to a split by a hash of its path, so the split
    is stable when files are added; put files in split folders to keep speakers apart.

    Args:
        root: the folder.
        val_fraction, test_fraction: shares of the hashed split.
    """

    name = "audio_folder"
    id_column = "utt_id"

    def __init__(self, root: str | None, val_fraction: float = 0.15, test_fraction: float = 0.15) -> None:
        self.root = root
        self.val_fraction = val_fraction
        self.test_fraction = test_fraction

    def _class_dirs(self) -> tuple[Path, dict[str, Path]]:
        path = root_or_raise("Audio folder", self.root, FOLDER_SKETCH)
        if any((path / s).is_dir() for s in ("train", "val", "test")):
            dirs = {f"{s}/{c}": path / s / c for s in ("train", "val", "test") for c in ("real", "fake")}
        else:
            dirs = {c: path / c for c in ("real", "fake")}
        return path, dirs

    @staticmethod
    def _files(folder: Path) -> list[Path]:
        return sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file())

    def check(self) -> None:
        path, dirs = self._class_dirs()
        missing = [f"{key}/ (no audio files)" for key, d in dirs.items() if not d.is_dir() or not self._files(d)]
        if missing:
            raise DatasetNotFoundError(
                f"Audio folder {path} is incomplete; missing: {', '.join(missing)}. Expected layout:\n{FOLDER_SKETCH}"
            )

    def prepare(self) -> None:
        self.check()

    def manifest(self) -> pd.DataFrame:
        self.check()
        path, dirs = self._class_dirs()
        rows = []
        for key, folder in dirs.items():
            cls = key.rsplit("/", 1)[-1]
            for f in self._files(folder):
                rel = f.relative_to(folder)
                if "/" in key:
                    split = key.split("/")[0]
                else:
                    u = stable_fraction(f"{cls}/{rel.as_posix()}")
                    split = (
                        "test"
                        if u < self.test_fraction
                        else "val"
                        if u < self.test_fraction + self.val_fraction
                        else "train"
                    )
                method = "real" if cls == "real" else (rel.parts[0] if len(rel.parts) > 1 else "fake")
                rows.append(
                    {
                        "dataset": "audio_folder",
                        "split": split,
                        "utt_id": f"{key}/{rel.with_suffix('').as_posix()}",  # split folders: train/real/...
                        "speaker": rel.parent.as_posix(),
                        "label": int(cls == "fake"),
                        "method": method,
                        "path": str(f),
                    }
                )
        return pd.DataFrame(rows, columns=list(COLUMNS))


class SyntheticAudioSource:
    """The built-in synthetic anti-spoofing set (see :mod:`dfdet.data.audio.synthetic`), generated on first use.

    Args:
        cache_dir: folder holding generated datasets, one subfolder per parameter set.
        seed: generator seed; the same seed and parameters give the same files.
        speakers: speakers in train, val and test (disjoint).
        utterances_per_speaker: bona fide utterances per speaker, and as many spoofs.
        seconds: utterance duration range.
        workers: generator processes (the files do not depend on it).
    """

    name = "synthetic_audio"
    id_column = "utt_id"

    def __init__(
        self,
        cache_dir: str | os.PathLike,
        seed: int = 0,
        speakers: tuple[int, int, int] | list[int] = (24, 8, 8),
        utterances_per_speaker: int = 16,
        seconds: tuple[float, float] | list[float] = (2.0, 4.0),
        workers: int = 1,
    ) -> None:
        self.cache_dir = Path(cache_dir)
        self.workers = workers
        self.spec = SyntheticAudioSpec(
            seed=seed,
            speakers=tuple(int(s) for s in speakers),  # type: ignore[arg-type]
            utterances_per_speaker=utterances_per_speaker,
            seconds=tuple(float(s) for s in seconds),  # type: ignore[arg-type]
        )

    def check(self) -> None:
        if len(self.spec.speakers) != 3 or min(self.spec.speakers) < 1 or self.spec.utterances_per_speaker < 1:
            raise DatasetNotFoundError(
                "data.source.speakers needs 3 positive counts (train, val, test) and utterances_per_speaker >= 1"
            )

    def prepare(self) -> None:
        ensure_synthetic_audio(self.spec, self.cache_dir, self.workers)

    def manifest(self) -> pd.DataFrame:
        path = ensure_synthetic_audio(self.spec, self.cache_dir, self.workers)
        df = pd.read_parquet(path)
        df["path"] = [str(path.parent / p) for p in df["path"]]
        return df[list(COLUMNS)]
