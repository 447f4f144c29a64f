"""Audio-visual releases (FakeAVCeleb v1.2, LAV-DF, AV-Deepfake1M) read from generated trees in their layouts:
the video table, the per-modality labels and fake segments carried into the manifest, clear missing-data errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from dfdet.data.layouts import VIDEO_COLUMNS, check_layout
from dfdet.data.sources import ProcessedSource
from dfdet.errors import DatasetNotFoundError, ManifestError
from dfdet.preprocess.releases import AVDeepfake1MRelease, FakeAVCelebRelease, LAVDFRelease, LRSRelease
from dfdet.testing.av_releases import make_avdeepfake1m, make_fakeavceleb, make_lavdf

LAVDF = [
    {"file": "train/000001.mp4", "split": "train", "fake_periods": [], "modify_video": False, "modify_audio": False},
    {"file": "train/000002.mp4", "split": "train", "fake_periods": [[0.5, 1.2]], "modify_video": True,
     "modify_audio": False},
    {"file": "dev/000003.mp4", "split": "dev", "fake_periods": [[0.1, 0.4], [2.0, 2.5]], "modify_video": True,
     "modify_audio": True},
    {"file": "test/000004.mp4", "split": "test", "fake_periods": [[1.0, 1.3]], "modify_video": False,
     "modify_audio": True},
]  # fmt: skip


def avdf1m_entries() -> dict[str, list[dict]]:
    def entry(file: str, original: str | None, kind: str, v: list, a: list) -> dict:
        both = sorted(v + a)
        return {"file": file, "original": original, "modify_type": kind, "fake_segments": both,
                "visual_fake_segments": v, "audio_fake_segments": a}  # fmt: skip

    train = [entry(f"id{k}/v/real.mp4", None, "real", [], []) for k in range(20)]
    train += [entry(f"id{k}/v/fake.mp4", f"id{k}/v/real.mp4", "both_modified", [[0.2, 0.6]], [[1.0, 1.4]])
              for k in range(20)]  # fmt: skip
    val = [entry("id9/v/real.mp4", None, "real", [], []),
           entry("id9/v/fake_a.mp4", "id9/v/real.mp4", "audio_modified", [], [[0.3, 0.9]]),
           entry("id9/v/fake_v.mp4", "id9/v/real.mp4", "visual_modified", [[0.0, 0.5]], [])]  # fmt: skip
    return {"train": train, "val": val}


def test_fakeavceleb_reads_the_four_categories(tmp_path: Path) -> None:
    root = make_fakeavceleb(tmp_path / "FakeAVCeleb_v1.2", identities=10)
    release = FakeAVCelebRelease(root, val_fraction=0.1, test_fraction=0.2)
    table, report = release.scan()
    assert tuple(table.columns) == VIDEO_COLUMNS and report.lines() == [] and len(table) == 40
    notes = release.annotations().set_index("source")
    for _, row in table.iterrows():
        kind = row["source"].split("/")[0]
        video, audio = notes.loc[row["source"], ["video_label", "audio_label"]]
        assert (video, audio) == (kind.startswith("FakeVideo"), kind.endswith("FakeAudio"))
        assert row["label"] == int(video or audio) and (row["method"] == "real") == (row["label"] == 0)
    by_identity = table.assign(ident=table["source"].str.split("/").str[3]).groupby("ident")["split"].nunique()
    assert (by_identity == 1).all()  # an identity's real video and its fakes share a split
    assert table["split"].value_counts().to_dict() == {"train": 28, "test": 8, "val": 4}
    assert table.loc[0, "source"].endswith(".mp4") and not table.loc[0, "source"].startswith("FakeAVCeleb/")


def test_fakeavceleb_reports_absent_videos_and_bad_rows(tmp_path: Path) -> None:
    root = make_fakeavceleb(tmp_path, identities=2)
    next(root.glob("FakeVideo-FakeAudio/**/*.mp4")).unlink()
    with (root / "meta_data.csv").open("a") as f:
        f.write("id1,-,-,real,A,SomethingElse,African,men,x.mp4,FakeAVCeleb/SomethingElse\n")
    table, report = FakeAVCelebRelease(root).scan()
    assert len(table) == 7
    assert any("absent on disk: 1 video(s) listed in meta_data.csv" in line for line in report.lines())
    assert any("line 10" in line for line in report.unexpected)
    (root / "meta_data.csv").unlink()
    table, report = FakeAVCelebRelease(root).scan()
    with pytest.raises(DatasetNotFoundError, match=r"FakeAVCeleb v1.2 at .* missing: meta_data.csv.*Expected layout"):
        report.raise_if_unusable(table)


def test_lavdf_keeps_splits_labels_and_fake_periods(tmp_path: Path) -> None:
    release = LAVDFRelease(make_lavdf(tmp_path, LAVDF))
    table, report = release.scan()
    assert report.lines() == []
    assert table.set_index("video_id")["split"].to_dict() == {
        "dev/000003": "val", "test/000004": "test", "train/000001": "train", "train/000002": "train"
    }  # fmt: skip
    assert table.set_index("video_id")["method"].to_dict()["dev/000003"] == "both_modified"
    notes = release.annotations().set_index("source")
    assert json.loads(notes.loc["dev/000003.mp4", "fake_segments"]) == [[0.1, 0.4], [2.0, 2.5]]
    assert notes.loc["test/000004.mp4", ["video_label", "audio_label"]].tolist() == [0, 1]
    assert table.set_index("video_id")["label"].to_dict() == {
        "dev/000003": 1, "test/000004": 1, "train/000001": 0, "train/000002": 1
    }  # fmt: skip


def test_lavdf_rejects_malformed_periods_and_names_a_missing_metadata(tmp_path: Path) -> None:
    bad = [{**LAVDF[1], "fake_periods": [[1.5, 0.5]]}]
    with pytest.raises(ManifestError, match=r"metadata.json: train/000002.mp4: expected a list of \[start, end\]"):
        LAVDFRelease(make_lavdf(tmp_path / "bad", bad)).scan()
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetNotFoundError, match=r"LAV-DF at .*missing: metadata.json"):
        check_layout("lavdf", tmp_path / "empty")
    with pytest.raises(DatasetNotFoundError, match="data.root is not set"):
        LAVDFRelease(None).scan()


def test_avdeepfake1m_carves_val_by_original_and_tests_on_val(tmp_path: Path) -> None:
    release = AVDeepfake1MRelease(make_avdeepfake1m(tmp_path, avdf1m_entries()), val_fraction=0.2)
    table, report = release.scan()
    assert report.lines() == [] and len(table) == 43
    test = table[table["split"] == "test"]
    assert sorted(test["source"]) == ["val/id9/v/fake_a.mp4", "val/id9/v/fake_v.mp4", "val/id9/v/real.mp4"]
    val = table[table["split"] == "val"]
    assert len(val) == 8  # 4 of the 20 originals, each with its fake
    assert val["source"].str.split("/").str[1].value_counts().eq(2).all()
    notes = release.annotations().set_index("source")
    row = notes.loc["val/id9/v/fake_a.mp4"]
    assert (row["video_label"], row["audio_label"]) == (0, 1)
    assert json.loads(row["audio_fake_segments"]) == [[0.3, 0.9]] and json.loads(row["visual_fake_segments"]) == []
    assert table.set_index("source").loc["val/id9/v/fake_v.mp4", "method"] == "visual_modified"
    (tmp_path / "val" / "id9" / "v" / "real.mp4").unlink()
    _, report = AVDeepfake1MRelease(tmp_path).scan()
    assert any("val_metadata.json" in line for line in report.lines())


def test_the_manifest_carries_segment_labels(tmp_path: Path) -> None:
    """ProcessedSource merges the release's annotations into the frame manifest by source video."""
    root = make_lavdf(tmp_path / "release", LAVDF)
    processed = tmp_path / "processed"
    processed.mkdir()
    crop = processed / "crop.jpg"
    crop.write_bytes(b"\x00")
    rows = [
        {"dataset": "lavdf", "split": e["split"].replace("dev", "val"), "video_id": e["file"].rsplit(".", 1)[0],
         "label": int(bool(e["fake_periods"])), "method": "m", "frame_index": 0, "path": str(crop), "source": e["file"]}
        for e in LAVDF
    ]  # fmt: skip
    pd.DataFrame(rows).to_parquet(processed / "manifest.parquet")
    source = ProcessedSource("lavdf", str(root), processed, release=LAVDFRelease(root))
    source.check()
    df = source.manifest().set_index("video_id")
    assert json.loads(df.loc["dev/000003", "fake_segments"]) == [[0.1, 0.4], [2.0, 2.5]]
    assert df.loc["train/000002", "video_label"] == 1 and df.loc["train/000002", "audio_label"] == 0
    assert df.loc["train/000001", "source_path"] == str(root.resolve() / "train/000001.mp4")


def test_lrs_style_folders_are_real_talking_heads(tmp_path: Path) -> None:
    for rel in ("pretrain/spk1/00001.mp4", "pretrain/spk2/00001.mp4", "trainval/spk3/00002.mp4", "test/spk9/00003.mp4"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"\x00")
    (tmp_path / "pretrain/spk1/00001.txt").write_text("Text: HELLO")  # transcripts are ignored
    table, report = LRSRelease(tmp_path, val_fraction=0.34).scan()
    assert report.lines() == [] and (table["label"] == 0).all() and (table["method"] == "real").all()
    split = table.set_index("video_id")["split"].to_dict()
    assert split["test/spk9/00003"] == "test" and sorted(split.values()).count("val") == 1
    (tmp_path / "empty").mkdir()
    table, report = LRSRelease(tmp_path / "empty").scan()
    with pytest.raises(DatasetNotFoundError, match="LRS2/LRS3-style talking heads at .* missing: pretrain/"):
        report.raise_if_unusable(table)
