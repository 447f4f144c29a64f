"""The test-set releases beyond FF++, Celeb-DF and DFDC: DFD, DFDC preview, DeeperForensics-1.0, WildDeepfake,
FFIW-10K, UADFV and DF40, each read from a generated tree, with one clear message when incomplete."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from dfdet.data.layouts import VIDEO_COLUMNS, check_layout
from dfdet.errors import DatasetNotFoundError
from dfdet.preprocess.releases import (
    DeeperForensicsRelease,
    DF40Release,
    FaceForensicsRelease,
    FFIWRelease,
    ReleaseConfigError,
    UADFVRelease,
    WildDeepfakeRelease,
)
from dfdet.preprocess.video import read_media
from dfdet.tasks.preprocess import preprocess
from dfdet.testing.media import (
    ClipBank,
    make_deeperforensics,
    make_df40,
    make_ffiw,
    make_ffpp,
    make_uadfv,
    make_wilddeepfake,
    write_frames,
)


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> ClipBank:
    return ClipBank(tmp_path_factory.mktemp("clips"), frames=2, variants=1)


def by_id(table, column: str) -> dict:
    return dict(zip(table["video_id"], table[column], strict=True))


def test_dfd_is_all_test_with_actor_pairs(tmp_path: Path, bank: ClipBank) -> None:
    make_ffpp(tmp_path, bank, methods=("Deepfakes",))
    for actor in (1, 2):
        bank.put(tmp_path / f"original_sequences/actors/c23/videos/{actor:02d}__walk.mp4", fake=False)
        bank.put(tmp_path / f"manipulated_sequences/DeepFakeDetection/c23/videos/{actor:02d}_03__walk__AB.mp4", True)
    release = FaceForensicsRelease(
        tmp_path, methods=["DeepFakeDetection"], actor_val_fraction=0.0, actor_test_fraction=1.0
    )
    table, report = release.scan()
    assert report.missing == [] and len(table) == 4 and set(table["split"]) == {"test"}
    assert by_id(table, "original")["DeepFakeDetection/01_03__walk__AB"] == "actors/01__walk"


def test_deeperforensics(tmp_path: Path, bank: ClipBank) -> None:
    root = make_deeperforensics(tmp_path, bank)
    table, report = DeeperForensicsRelease(root, max_real_per_actor=1).scan()
    assert tuple(table.columns) == VIDEO_COLUMNS and report.missing == []
    split = by_id(table, "split")
    assert split["end_to_end/000_M001"] == "train" and split["end_to_end/002_M002"] == "val"
    reals = table[table["label"] == 0]
    assert len(reals) == 3  # one per actor (max_real_per_actor=1)
    actor_split = {v.split("/")[1]: s for v, s in zip(reals["video_id"], reals["split"], strict=True)}
    assert actor_split == {"M001": "test", "M002": "train", "M003": "test"}  # M001: a tie -> test; M002: mostly train
    assert report.excluded == {"of actor M001 beyond max_real_per_actor": 1, "of actor M002 beyond max_real_per_actor":
                               1, "of actor M003 beyond max_real_per_actor": 1}  # fmt: skip
    (root / "lists/splits/test.txt").unlink()
    with pytest.raises(DatasetNotFoundError, match=r"DeeperForensics-1.0 at .* missing: lists/splits/test.txt"):
        check_layout("deeperforensics", root, perturbation="end_to_end")


def test_wilddeepfake_frame_sequences_and_archives(tmp_path: Path) -> None:
    root = make_wilddeepfake(tmp_path / "wdf", per_folder=3)
    table, report = WildDeepfakeRelease(root, val_fraction=0.34).scan()
    assert report.lines() == [] and len(table) == 12
    assert by_id(table, "split")["fake_test/0/fake/0"] == "test"
    train = table[table["video_id"].str.contains("_train/")]
    assert set(train["split"]) == {"train", "val"}
    packed = tmp_path / "packed"
    (packed / "real_test").mkdir(parents=True)
    (packed / "real_test/1.tar.gz").write_bytes(b"x")
    _, report = WildDeepfakeRelease(packed).scan()
    assert report.missing[0] == "real_test/ frames (1 archive(s) not unpacked)" and "tar -xzf" in report.hints[0]


def test_a_folder_of_frames_reads_as_one_video(tmp_path: Path) -> None:
    folder = write_frames(tmp_path / "seq", fake=False, count=5)
    (folder / "notes.txt").write_text("x")
    indices, frames, total = read_media(folder, 3)
    assert total == 5 and indices.tolist() == [0, 2, 4] and frames[0].shape == (128, 160, 3)


def test_ffiw_pairs_target_with_source(tmp_path: Path, bank: ClipBank) -> None:
    table, report = FFIWRelease(make_ffiw(tmp_path, bank)).scan()
    assert report.lines() == [] and len(table) == 6 and set(table["split"]) == {"train", "val", "test"}
    assert by_id(table, "original")["target/test/00002"] == "source/test/00002"
    shutil.rmtree(tmp_path / "target")
    table, report = FFIWRelease(tmp_path).scan()
    with pytest.raises(DatasetNotFoundError, match="FFIW-10K .* missing: target"):
        report.raise_if_unusable(table)


def test_uadfv(tmp_path: Path, bank: ClipBank) -> None:
    root = make_uadfv(tmp_path, bank)
    table, report = UADFVRelease(root).scan()
    assert report.lines() == [] and set(table["split"]) == {"test"} and len(table) == 6
    assert by_id(table, "original")["fake/0001_fake"] == "real/0001"
    hashed, _ = UADFVRelease(root, unsplit="hash").scan()
    assert hashed.groupby(hashed["video_id"].str.extract(r"/(\d+)")[0])["split"].nunique().max() == 1  # pairs stay
    with pytest.raises(ReleaseConfigError, match="unsplit must be test or hash"):
        UADFVRelease(root, unsplit="val")


def test_df40_methods_domains_and_reals(tmp_path: Path) -> None:
    root, reals = make_df40(tmp_path / "df40", tmp_path / "reals")
    table, report = DF40Release(root, real_dirs=[reals]).scan()
    assert report.lines() == []
    assert sorted(set(table["method"])) == ["heygen", "real", "simswap_cdf", "simswap_ff"]
    assert (table["label"] == (table["method"] != "real")).all() and len(table) == 5
    real_source = table.loc[table["label"] == 0, "source"].iloc[0]
    assert Path(real_source).is_absolute() and Path(real_source).is_dir()
    _, report = DF40Release(root, methods=["simswap", "uniface"]).scan()
    assert report.missing == ["uniface/", "real frames (data.source.release.real_dirs is empty)"]
    assert report.hints == ["Methods present: heygen, simswap"]


def test_frame_sequences_preprocess_end_to_end(tmp_path: Path, preprocess_cfg: Callable) -> None:
    """WildDeepfake's frame folders go through preprocess.py like videos: faces detected, crops and a manifest."""
    root = make_wilddeepfake(tmp_path / "wdf", per_folder=1, frames=2)
    summary = preprocess(preprocess_cfg("data=wilddeepfake", f"data.root={root}"))
    assert summary["videos"] == 4 and summary["done"] == 4 and summary["failed"] == 0


@pytest.mark.parametrize("name", ["dfd", "dfdcp", "deeperforensics", "wilddeepfake", "ffiw", "uadfv", "df40"])
def test_missing_root_is_one_clear_line(name: str, preprocess_cfg: Callable) -> None:
    cfg = preprocess_cfg(f"data={name}", "data.root=/nowhere")
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        preprocess(cfg)
