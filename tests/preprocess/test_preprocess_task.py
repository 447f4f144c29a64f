"""preprocess.py end to end on generated release trees: manifest, failures, resume after a kill, shards, merge."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from dfdet.data.manifest import REQUIRED, read_manifest
from dfdet.preprocess.store import ProcessedDirError
from dfdet.preprocess.video import sample_indices
from dfdet.tasks.common import run_entry
from dfdet.tasks.preprocess import preprocess
from dfdet.testing.media import ClipBank, face_frames, make_celebdf, make_dfdc, make_ffpp, write_video


def processed(tmp_path: Path, name: str = "folder") -> Path:
    return tmp_path / "data" / "processed" / name


def test_folder_release_end_to_end(folder_tree: Path, preprocess_cfg: Callable, tmp_path: Path) -> None:
    summary = preprocess(preprocess_cfg("data=folder", f"data.root={folder_tree}"))
    assert summary["videos"] == 9 and summary["done"] == 7 and summary["failed"] == 2
    out = processed(tmp_path)
    df = read_manifest(out / "manifest.parquet")  # validates columns, labels, splits and every crop file
    assert set(REQUIRED) | {"box", "landmarks", "det_score", "detected", "source"} <= set(df.columns)
    assert set(df["split"]) == {"train", "val", "test"} and set(df["label"]) == {0, 1}
    per_video = df.groupby("video_id")["frame_index"].apply(list)
    assert (
        per_video.drop(index=[v for v in per_video.index if v.endswith("_still")])
        .map(lambda f: f == sample_indices(6, 4).tolist())
        .all()
    )
    still = per_video[[v for v in per_video.index if v.endswith("_still")][0]]
    assert still == [0]
    row = df.iloc[0]
    assert len(row["box"]) == 4 and len(row["landmarks"]) == 10 and 0.9 < row["det_score"] <= 1
    assert Image.open(row["path"]).size == (64, 64)
    raw = pd.read_parquet(out / "manifest.parquet")
    assert raw["path"].str.startswith("crops/").all()  # relative to the manifest's folder
    failures = pd.read_csv(out / "failures.csv").set_index("video_id")
    assert set(failures.index) == {"real/broken", "fake/empty"}
    assert failures["reason"].str.startswith("unreadable").all()
    assert not (out / "tmp").exists()


def test_a_truncated_video_is_kept_and_counted_partial(
    folder_tree: Path, preprocess_cfg: Callable, tmp_path: Path
) -> None:
    """A video cut short with its index first gives crops from the frames read, and the run says how many such."""
    cut = folder_tree / "real" / "clip_cut.mp4"
    write_video(cut, face_frames(32, size=(160, 128), seed=2), faststart=True)
    cut.write_bytes(cut.read_bytes()[: cut.stat().st_size * 3 // 10])
    summary = preprocess(preprocess_cfg("data=folder", f"data.root={folder_tree}"))
    assert summary["done"] == 8 and summary["failed"] == 2 and summary["partial"] == 1


def test_decode_timeouts_are_recorded_and_the_run_goes_on(
    folder_tree: Path, preprocess_cfg: Callable, tmp_path: Path
) -> None:
    summary = preprocess(
        preprocess_cfg("data=folder", f"data.root={folder_tree}", "preprocessor.decode_timeout_s=1e-9")
    )
    assert summary["videos"] == 9 and summary["done"] == 1 and summary["failed"] == 8  # the still image is read
    failures = pd.read_csv(processed(tmp_path) / "failures.csv").set_index("video_id")
    timed_out = failures.drop(index=["real/broken", "fake/empty"])["reason"]
    assert len(timed_out) == 6 and timed_out.str.contains("decode_timeout_s").all()


def test_resume_after_a_kill_gives_the_same_manifest(
    folder_tree: Path, preprocess_cfg: Callable, tmp_path: Path
) -> None:
    root = f"data.root={folder_tree}"
    reference = tmp_path / "reference"
    preprocess(preprocess_cfg("data=folder", root, f"data.source.processed_dir={reference}"))

    first = preprocess(preprocess_cfg("data=folder", root, "limit=3"))  # an interrupted run: 3 videos finished
    assert first["done"] + first["failed"] == 3 and first["pending"] == 6
    out = processed(tmp_path)
    # What a kill at the worst moments leaves: a half-written temp folder, and crops renamed into place whose
    # part file was never written.
    (out / "tmp" / "deadbeef" / "crops").mkdir(parents=True)
    (out / "tmp" / "deadbeef" / "crops" / "000000.jpg").write_bytes(b"half")
    done = {p.relative_to(out / "parts").with_suffix("").as_posix() for p in (out / "parts").rglob("*.parquet")}
    todo = next(v for v in ("real/clip000", "fake/clip000", "real/clip007", "fake/clip011") if v not in done)
    (out / "crops" / todo).mkdir(parents=True)
    (out / "crops" / todo / "999999.jpg").write_bytes(b"stale")

    second = preprocess(preprocess_cfg("data=folder", root))
    assert second["skipped"] == 3 and second["done"] + second["failed"] == 6 and second["pending"] == 0
    assert not (out / "crops" / todo / "999999.jpg").exists() and not (out / "tmp").exists()
    pd.testing.assert_frame_equal(
        pd.read_parquet(out / "manifest.parquet"), pd.read_parquet(reference / "manifest.parquet")
    )
    third = preprocess(preprocess_cfg("data=folder", root))  # nothing left to do
    assert third["skipped"] == 9 and third["done"] == 0


@pytest.mark.slow  # shards: four preprocessing runs
def test_shards_and_merge_equal_a_single_run(folder_tree: Path, preprocess_cfg: Callable, tmp_path: Path) -> None:
    root = f"data.root={folder_tree}"
    reference = tmp_path / "reference"
    preprocess(preprocess_cfg("data=folder", root, f"data.source.processed_dir={reference}"))
    out = processed(tmp_path)
    shard0 = preprocess(preprocess_cfg("data=folder", root, "num_shards=2", "shard=0", "workers=2"))
    assert "manifest" not in shard0 and not (out / "manifest.parquet").exists()  # shards do not merge
    shard1 = preprocess(preprocess_cfg("data=folder", root, "num_shards=2", "shard=1"))
    assert shard0["selected"] + shard1["selected"] == 9 and shard0["selected"] > 0 and shard1["selected"] > 0
    merged = preprocess(preprocess_cfg("data=folder", root, "num_shards=2", "mode=merge"))
    assert merged["pending"] == 0 and merged["failures"] == 2
    pd.testing.assert_frame_equal(
        pd.read_parquet(out / "manifest.parquet"), pd.read_parquet(reference / "manifest.parquet")
    )


def test_other_settings_in_the_same_folder_are_refused(
    folder_tree: Path, preprocess_cfg: Callable, tmp_path: Path
) -> None:
    preprocess(preprocess_cfg("data=folder", f"data.root={folder_tree}", "limit=1"))
    with pytest.raises(ProcessedDirError, match="cropper"):
        preprocess(preprocess_cfg("data=folder", f"data.root={folder_tree}", "preprocessor.cropper.size=32"))


def test_check_mode_only_reads_the_layout(
    folder_tree: Path, preprocess_cfg: Callable, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    (folder_tree / "notes.txt").write_text("x")
    summary = preprocess(preprocess_cfg("data=folder", f"data.root={folder_tree}", "mode=check"))
    assert summary["videos"] == 9 and summary["real"] == 5 and summary["fake"] == 4
    assert "9 videos" in capsys.readouterr().out
    assert not processed(tmp_path).exists()


@pytest.mark.parametrize("dataset", ["ffpp", "celebdf", "dfdc"])
def test_public_release_layouts_end_to_end(
    dataset: str, clip_bank: ClipBank, preprocess_cfg: Callable, tmp_path: Path
) -> None:
    make = {"ffpp": make_ffpp, "celebdf": make_celebdf, "dfdc": make_dfdc}[dataset]
    root = make(tmp_path / dataset, clip_bank)
    extra = ["data.source.release.methods=[Deepfakes,FaceSwap]"] if dataset == "ffpp" else []
    summary = preprocess(preprocess_cfg(f"data={dataset}", f"data.root={root}", "data.frames_per_video=2", *extra))
    assert summary["failed"] == 0 and summary["manifest_videos"] == summary["videos"]
    df = read_manifest(processed(tmp_path, "ffpp-c23" if dataset == "ffpp" else dataset) / "manifest.parquet")
    assert set(df["split"]) == {"train", "val", "test"} and len(df) == 2 * summary["videos"]
    assert (df["dataset"] == dataset).all()


def test_entry_reports_a_missing_root_in_one_line(preprocess_cfg: Callable, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run_entry(preprocess, preprocess_cfg("data=folder", "data.root=/nonexistent/release"))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: a folder of your own not found: data.root=/nonexistent/release") and "\n" not in err


def test_non_release_data_is_refused(preprocess_cfg: Callable, tmp_path: Path) -> None:
    from dfdet.tasks.preprocess import PreprocessError

    with pytest.raises(PreprocessError, match="no release"):
        preprocess(preprocess_cfg("data=synthetic"))
    shutil.rmtree(tmp_path / "run", ignore_errors=True)


def test_preprocess_py_checks_a_layout(folder_tree: Path, run_cli) -> None:
    """The one subprocess smoke test of preprocess.py: the script starts, reads the layout and exits 0."""
    proc = run_cli("preprocess.py", "data=folder", f"data.root={folder_tree}", "mode=check", "progress=false")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "9 videos" in proc.stdout and "Traceback" not in proc.stderr
