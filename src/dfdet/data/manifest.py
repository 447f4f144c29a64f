"""The frame manifest: one row per face crop, the contract between preprocessing and training.

Columns (``REQUIRED`` must be present):

- ``dataset`` (str), ``split`` (train/val/test), ``video_id`` (str, unique within a dataset), ``label`` (0 real,
  1 fake), ``method`` (manipulation method or ``real``), ``frame_index`` (int, index in the source video),
  ``path`` (crop image, relative to the manifest's folder or absolute);
- optional: ``box`` (x1, y1, x2, y2 in the source frame), ``landmarks`` (5 points as x1, y1, ..., x5, y5 in the
  crop), ``det_score`` (detector confidence).
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from dfdet.errors import ManifestError

REQUIRED = ("dataset", "split", "video_id", "label", "method", "frame_index", "path")  # frame manifests
REQUIRED_ANY = ("dataset", "split", "label", "method", "path")  # any manifest, plus its id column
SPLITS = ("train", "val", "test")


def read_manifest(path: str | os.PathLike, check_files: bool = True) -> pd.DataFrame:
    """Reads and validates a Parquet (or CSV) manifest; ``path`` column becomes absolute.

    Raises:
        ManifestError: naming the file and every problem found.
    """
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"Manifest not found: {path}")
    try:
        df = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)
    except Exception as exc:  # noqa: BLE001 - any reader failure means an unreadable file
        raise ManifestError(f"Manifest {path} is unreadable ({type(exc).__name__}: {exc})") from exc
    validate_manifest(df, where=str(path))
    df = df.copy()
    df["path"] = [p if os.path.isabs(p) else str(path.parent / p) for p in df["path"]]
    if check_files:
        missing = [p for p in df["path"] if not os.path.exists(p)]
        if missing:
            raise ManifestError(
                f"Manifest {path}: {len(missing)} of {len(df)} crop files are missing, e.g. {missing[0]}"
            )
    return df


def validate_manifest(df: pd.DataFrame, where: str = "manifest", id_column: str = "video_id") -> None:
    """Checks columns, labels and splits; raises :class:`ManifestError` listing every problem.

    Args:
        df: the manifest.
        where: names it in the message.
        id_column: the column naming each row's group: ``video_id`` for frame manifests (which also need
            ``frame_index``), ``utt_id`` for utterances.
    """
    required = REQUIRED if id_column == "video_id" else (*REQUIRED_ANY, id_column)
    problems = [f"missing column '{c}'" for c in required if c not in df.columns]
    if not problems:
        bad_labels = set(df["label"].unique()) - {0, 1}
        if bad_labels:
            problems.append(f"labels must be 0 (real) or 1 (fake), found {sorted(bad_labels)}")
        bad_splits = set(df["split"].unique()) - set(SPLITS)
        if bad_splits:
            problems.append(f"splits must be in {SPLITS}, found {sorted(bad_splits)}")
        if len(df) == 0:
            problems.append("no rows")
    if problems:
        raise ManifestError(f"{where}: " + "; ".join(problems))


def video_keys(df: pd.DataFrame, id_column: str = "video_id") -> pd.Series:
    """``dataset/<id>`` of each row: the name of its video (or utterance), unique across datasets."""
    return df["dataset"].astype(str) + "/" + df[id_column].astype(str)


def split_frames(df: pd.DataFrame, split: str) -> pd.DataFrame:
    """Rows of one split; raises if the split is empty."""
    part = df[df["split"] == split].reset_index(drop=True)
    if part.empty:
        raise ManifestError(f"The manifest has no '{split}' rows (splits present: {sorted(df['split'].unique())})")
    return part
