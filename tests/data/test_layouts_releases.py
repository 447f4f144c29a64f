"""Release readers: the video table of each public layout, and precise reports of what is missing or unexpected."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from dfdet.data.layouts import VIDEO_COLUMNS, check_layout, split_by_hash
from dfdet.data.sources import ProcessedSource
from dfdet.errors import DatasetNotFoundError
from dfdet.preprocess.releases import (
    CelebDFRelease,
    DFDCRelease,
    FaceForensicsRelease,
    FolderRelease,
    ReleaseConfigError,
)
from dfdet.testing.media import ClipBank, make_celebdf, make_dfdc, make_ffpp, make_folder


@pytest.fixture(scope="module")
def bank(tmp_path_factory: pytest.TempPathFactory) -> ClipBank:
    return ClipBank(tmp_path_factory.mktemp("clips"), frames=2, variants=1)


def ffpp(root: Path, bank: ClipBank, **kwargs: object) -> FaceForensicsRelease:
    make_ffpp(root, bank, **kwargs)  # type: ignore[arg-type]
    return FaceForensicsRelease(root, methods=["Deepfakes", "FaceSwap"], compression=kwargs.get("compression", "c23"))


def test_ffpp_table_follows_the_official_pairs(tmp_path: Path, bank: ClipBank) -> None:
    table, report = ffpp(tmp_path, bank).scan()
    assert tuple(table.columns) == VIDEO_COLUMNS and report.lines() == []
    assert len(table) == 6 + 2 * 6 and (table["label"] == (table["method"] != "real")).all()
    split = dict(zip(table["video_id"], table["split"], strict=True))
    for vid in ("youtube/002", "youtube/003", "Deepfakes/002_003", "FaceSwap/003_002"):
        assert split[vid] == "val"
    assert split["Deepfakes/004_005"] == "test" and split["youtube/000"] == "train"
    assert table.loc[table["video_id"] == "Deepfakes/000_001", "source"].item() == (
        "manipulated_sequences/Deepfakes/c23/videos/000_001.mp4"
    )


def test_ffpp_c0_is_raw(tmp_path: Path, bank: ClipBank) -> None:
    make_ffpp(tmp_path, bank, compression="raw")
    release = FaceForensicsRelease(tmp_path, compression="c0", methods=["Deepfakes"])
    assert release.compression == "raw" and len(release.scan()[0]) == 12
    assert check_layout("ffpp", tmp_path, compression="raw") == tmp_path.resolve()


def test_ffpp_report_names_every_problem(tmp_path: Path, bank: ClipBank) -> None:
    make_ffpp(tmp_path, bank)
    (tmp_path / "manipulated_sequences/Deepfakes/c23/videos/001_000.mp4").unlink()  # listed, absent
    bank.put(tmp_path / "original_sequences/youtube/c23/videos/999.mp4", fake=False)  # in no split file
    (tmp_path / "manipulated_sequences/Unknown").mkdir()
    (tmp_path / "original_sequences/youtube/c23/videos/notes.txt").write_text("x")
    (tmp_path / "splits/test.json").unlink()
    release = FaceForensicsRelease(tmp_path)  # default methods: Face2Face and NeuralTextures are not there
    table, report = release.scan()
    assert report.missing == [
        "splits/test.json",
        "manipulated_sequences/Face2Face/c23/videos",
        "manipulated_sequences/NeuralTextures/c23/videos",
    ]
    assert report.unexpected == ["manipulated_sequences/Unknown", "original_sequences/youtube/c23/videos/notes.txt"]
    assert report.absent_counts == {"splits/*.json (manipulated_sequences/Deepfakes/c23)": 1}
    assert report.absent["splits/*.json (manipulated_sequences/Deepfakes/c23)"] == ["001_000.mp4"]
    assert report.excluded["in original_sequences/youtube are in no split file"] == 3  # 004, 005 and 999
    with pytest.raises(DatasetNotFoundError, match=r"missing: splits/test.json, manipulated_sequences/Face2Face"):
        report.raise_if_unusable(table, compression="c23")
    assert report.hints == ["To use the methods present, set data.source.release.methods=[Deepfakes,FaceSwap]"]


def test_ffpp_splits_dir_and_actor_videos(tmp_path: Path, bank: ClipBank) -> None:
    make_ffpp(tmp_path / "release", bank, methods=("Deepfakes",))
    shutil.move(tmp_path / "release/splits", tmp_path / "my_splits")
    videos = tmp_path / "release"
    for actor in range(1, 9):
        bank.put(videos / f"original_sequences/actors/c23/videos/{actor:02d}__walk.mp4", fake=False)
        bank.put(videos / f"manipulated_sequences/DeepFakeDetection/c23/videos/{actor:02d}_99__walk__X.mp4", True)
    release = FaceForensicsRelease(
        videos, methods=["Deepfakes", "DeepFakeDetection"], splits_dir=tmp_path / "my_splits"
    )
    table, report = release.scan()
    assert report.missing == [] and release.originals() == ["youtube", "actors"]
    actors = table[table["video_id"].str.contains("__walk")]
    assert len(actors) == 16 and set(actors["split"]) == {"train", "val", "test"}
    by_actor = actors.groupby(actors["video_id"].str.extract(r"/(\d\d)_")[0])["split"].nunique()
    assert (by_actor == 1).all()  # an actor's real and fake videos share a split


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"methods": ["DeepFakes"]}, "Unknown FaceForensics\\+\\+ methods \\['DeepFakes'\\]"),
        ({"compression": "c10"}, "c10"),
    ],
)
def test_ffpp_bad_options(kwargs: dict, message: str) -> None:
    with pytest.raises(ReleaseConfigError, match=message):
        FaceForensicsRelease("/x", **kwargs)


def test_celebdf_test_list_and_identity_val(tmp_path: Path, bank: ClipBank) -> None:
    make_celebdf(tmp_path, bank)
    table, report = CelebDFRelease(tmp_path, val_fraction=0.25).scan()
    assert report.lines() == [] and len(table) == 10
    split = dict(zip(table["video_id"], table["split"], strict=True))
    assert split["YouTube-real/00001"] == split["Celeb-synthesis/id3_id0_0000"] == "test"
    label = dict(zip(table["video_id"], table["label"], strict=True))
    assert label["YouTube-real/00001"] == 0 and label["Celeb-synthesis/id3_id0_0000"] == 1  # list says 1 = real
    val = table[table["split"] == "val"]
    identities = {v.split("/")[1].split("_")[0] for v in val["video_id"] if v.startswith("Celeb")}
    assert len(identities) == 1  # 25 % of the 4 non-test celebrity identities, with all their videos
    (ident,) = identities
    assert split[f"Celeb-real/{ident}_0000"] == "val" and all(
        s == "val" for v, s in split.items() if v.startswith(f"Celeb-synthesis/{ident}_") and "id3_id0" not in v
    )


def test_celebdf_report(tmp_path: Path, bank: ClipBank) -> None:
    make_celebdf(tmp_path, bank)
    with open(tmp_path / "List_of_testing_videos.txt", "a") as f:
        f.write("1 Celeb-real/id9_0009.mp4\nbad line\n1 Celeb-synthesis/id0_id1_0000.mp4\n")
    shutil.rmtree(tmp_path / "YouTube-real")
    table, report = CelebDFRelease(tmp_path).scan()
    assert report.missing == ["YouTube-real"]
    assert report.absent_counts == {"List_of_testing_videos.txt": 2}  # id9 and the YouTube-real test video
    assert any("line 4" in u for u in report.unexpected)
    assert any("Celeb-synthesis/id0_id1_0000.mp4 REAL" in u for u in report.unexpected)
    assert table.set_index("video_id").loc["Celeb-synthesis/id0_id1_0000", "label"] == 1  # the folder wins


def test_dfdc_parts_test_folder_and_val_by_original(tmp_path: Path, bank: ClipBank) -> None:
    make_dfdc(tmp_path, bank)
    table, report = DFDCRelease(tmp_path, val_fraction=0.5).scan()
    assert report.lines() == [] and len(table) == 7
    split = dict(zip(table["video_id"], table["split"], strict=True))
    assert split["test/ttt"] == split["test/uuu"] == "test"
    assert split["dfdc_train_part_0/f0"] == split["dfdc_train_part_0/f1"] == split["dfdc_train_part_0/aaa"]
    assert split["dfdc_train_part_0/f2"] == split["dfdc_train_part_0/bbb"] != split["dfdc_train_part_0/aaa"]
    by_part, _ = DFDCRelease(tmp_path, val_parts=[0]).scan()
    assert set(by_part.loc[by_part["video_id"].str.startswith("dfdc_train"), "split"]) == {"val"}


def test_dfdc_report_and_other_test_formats(tmp_path: Path, bank: ClipBank) -> None:
    make_dfdc(tmp_path, bank)
    (tmp_path / "dfdc_train_part_0/f2.mp4").unlink()  # listed in metadata.json, absent
    bank.put(tmp_path / "dfdc_train_part_0/zzz.mp4", fake=False)  # not in metadata.json
    (tmp_path / "dfdc_train_part_1").mkdir()  # a part without metadata.json
    bank.put(tmp_path / "public/p1.mp4", fake=True)
    (tmp_path / "public/metadata.json").write_text(json.dumps({"p1.mp4": {"is_fake": 1}, "p2.mp4": {"is_fake": 0}}))
    table, report = DFDCRelease(tmp_path).scan()
    assert report.missing == ["dfdc_train_part_1/metadata.json"]
    assert report.absent_counts == {"dfdc_train_part_0/metadata.json": 1, "public/metadata.json": 1}
    assert report.excluded == {"in dfdc_train_part_0 are not in its metadata.json": 1}
    assert table.set_index("video_id").loc["public/p1", ["split", "label"]].tolist() == ["test", 1]


def test_dfdc_preview(tmp_path: Path, bank: ClipBank) -> None:
    entries = {}
    for path, label, split in [
        ("original_videos/100/100_A_001.mp4", "real", "train"),
        ("method_A/100/100_200/x.mp4", "fake", "train"),
        ("original_videos/300/300_A_001.mp4", "real", "test"),
        ("method_B/300/300_400/y.mp4", "fake", "test"),
    ]:
        bank.put(tmp_path / path, fake=label == "fake")
        entries[path] = {"label": label, "set": split, "target_id": path.split("/")[1], "augmentations": []}
    (tmp_path / "dataset.json").write_text(json.dumps(entries))
    table, report = DFDCRelease(tmp_path).scan()
    assert report.lines() == [] and len(table) == 4
    assert sorted(table["method"]) == ["method_A", "method_B", "real", "real"]
    assert check_layout("dfdc", tmp_path) == tmp_path.resolve()


def test_dfdc_without_any_part(tmp_path: Path) -> None:
    table, report = DFDCRelease(tmp_path).scan()
    assert table.empty and "dataset.json" in report.missing[0]
    with pytest.raises(DatasetNotFoundError, match="dfdc_train_part_"):
        check_layout("dfdc", tmp_path)


def test_folder_split_by_hash(tmp_path: Path, bank: ClipBank) -> None:
    make_folder(tmp_path, bank, corrupt=False)
    for i in range(3):
        bank.put(tmp_path / f"fake/person7/clip{i}.mp4", fake=True)
    (tmp_path / "real/readme.md").write_text("x")
    (tmp_path / "extra").mkdir()
    table, report = FolderRelease(tmp_path).scan()
    assert report.unexpected == ["extra", "real/readme.md"]
    split = dict(zip(table["video_id"], table["split"], strict=True))
    for stem in ("clip000", "clip007", "clip011"):
        assert split[f"real/{stem}"] == split[f"fake/{stem}"] == split_by_hash(stem, 0.1, 0.1)
    assert {split[f"fake/person7/clip{i}"] for i in range(3)} == {split_by_hash("person7", 0.1, 0.1)}
    assert set(table["method"]) == {"real", "fake"}


def test_folder_report(tmp_path: Path, bank: ClipBank) -> None:
    bank.put(tmp_path / "real/a.mp4", fake=False)
    bank.put(tmp_path / "real/a.mov", fake=False)
    table, report = FolderRelease(tmp_path).scan()
    assert report.missing == ["fake/"]
    assert report.unexpected == ["real/a.mp4 (same name as real/a.mov; skipped)"]
    with pytest.raises(DatasetNotFoundError, match="missing: fake/"):
        report.raise_if_unusable(table)


def test_processed_source_checks_with_the_release(tmp_path: Path, bank: ClipBank) -> None:
    make_ffpp(tmp_path / "raw", bank, compression="c40")
    release = FaceForensicsRelease(tmp_path / "raw", compression="c40")
    source = ProcessedSource("ffpp", str(tmp_path / "raw"), tmp_path / "processed", release=release)
    with pytest.raises(DatasetNotFoundError, match="has not been preprocessed"):
        source.check()  # the c40 layout is there (the default c23 check would fail)
    with pytest.raises(DatasetNotFoundError, match="c23/videos"):
        ProcessedSource("ffpp", str(tmp_path / "raw"), tmp_path / "processed").check()
