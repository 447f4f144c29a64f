"""Manifest validation and release-layout checks give precise errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from dfdet.data.layouts import check_layout
from dfdet.data.manifest import read_manifest
from dfdet.data.sources import ProcessedSource
from dfdet.errors import DatasetNotFoundError, ManifestError


def _manifest(tmp_path: Path, **changes: object) -> Path:
    (tmp_path / "a.jpg").write_bytes(b"x")
    row = {
        "dataset": "d",
        "split": "train",
        "video_id": "v",
        "label": 0,
        "method": "real",
        "frame_index": 0,
        "path": "a.jpg",
    }
    row.update(changes)
    path = tmp_path / "manifest.parquet"
    pd.DataFrame([row]).drop(columns=[k for k, v in changes.items() if v is None]).to_parquet(path)
    return path


def test_valid_manifest_paths_become_absolute(tmp_path: Path) -> None:
    df = read_manifest(_manifest(tmp_path))
    assert Path(df["path"][0]).is_absolute()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"label": 2}, "labels must be 0"),
        ({"split": "dev"}, "splits must be"),
        ({"video_id": None}, "video_id"),
        ({"path": "missing.jpg"}, "missing.jpg"),
    ],
)
def test_bad_manifests_are_named(tmp_path: Path, changes: dict, message: str) -> None:
    with pytest.raises(ManifestError, match=message):
        read_manifest(_manifest(tmp_path, **changes))


def test_missing_manifest(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="not found"):
        read_manifest(tmp_path / "nope.parquet")


def test_ffpp_layout_lists_missing_parts(tmp_path: Path) -> None:
    (tmp_path / "original_sequences/youtube/c23/videos").mkdir(parents=True)
    with pytest.raises(DatasetNotFoundError, match=r"incomplete; missing: manipulated_sequences/\*/c23/videos"):
        check_layout("ffpp", tmp_path, compression="c23")
    (tmp_path / "manipulated_sequences/Deepfakes/c23/videos").mkdir(parents=True)
    assert check_layout("ffpp", tmp_path, compression="c23") == tmp_path.resolve()


@pytest.mark.parametrize("layout", ["ffpp", "celebdf", "dfdc", "folder"])
def test_unset_and_missing_roots(layout: str, tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="data.root is not set"):
        ProcessedSource(layout, None, tmp_path).check()
    with pytest.raises(DatasetNotFoundError, match="/nonexistent"):
        ProcessedSource(layout, "/nonexistent", tmp_path).check()


def test_unprocessed_dataset_says_run_preprocess(tmp_path: Path) -> None:
    for part in ("real", "fake"):
        (tmp_path / "raw" / part).mkdir(parents=True)
    with pytest.raises(DatasetNotFoundError, match="python preprocess.py data=folder"):
        ProcessedSource("folder", str(tmp_path / "raw"), tmp_path / "processed").check()
