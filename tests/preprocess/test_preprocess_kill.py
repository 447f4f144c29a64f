"""A preprocessing run killed with SIGKILL mid-way resumes to exactly the result of an uninterrupted run, and leaves
no worker process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from dfdet.tasks.preprocess import preprocess

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow  # kill-and-resume: a preprocess.py subprocess killed mid-run
def test_sigkill_then_resume_gives_the_same_manifest(
    folder_tree: Path, preprocess_cfg: Callable, tmp_path: Path
) -> None:
    root = f"data.root={folder_tree}"
    reference = tmp_path / "reference"
    preprocess(preprocess_cfg("data=folder", root, f"data.source.processed_dir={reference}"))

    out = tmp_path / "data" / "processed" / "folder"
    cmd = [
        sys.executable,
        str(ROOT / "preprocess.py"),
        "data=folder",
        root,
        f"paths.data_dir={tmp_path / 'data'}",
        "data.frames_per_video=4",
        "preprocessor.detect_every=1",
        "preprocessor.cropper.size=64",
        "workers=1",
        "progress=false",
        f"hydra.run.dir={tmp_path / 'killed'}",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None and not list((out / "parts").rglob("*.parquet")):
        time.sleep(0.01)
    if proc.poll() is not None:
        pytest.fail(f"the run ended (rc={proc.returncode}) before it could be killed")
    os.killpg(proc.pid, signal.SIGKILL)  # mid-run: at least one video finished, others in flight or pending
    proc.wait()
    finished = len(list((out / "parts").rglob("*.parquet")))
    assert finished >= 1 and not (out / "manifest.parquet").exists()

    resumed = preprocess(preprocess_cfg("data=folder", root))
    assert resumed["skipped"] >= finished and resumed["pending"] == 0
    assert not (out / "tmp").exists()
    pd.testing.assert_frame_equal(
        pd.read_parquet(out / "manifest.parquet"), pd.read_parquet(reference / "manifest.parquet")
    )


def _group(pgid: int) -> list[str]:
    """The live (not zombie) processes of process group ``pgid``, as ``pid command`` lines."""
    alive = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError):
            continue  # ended meanwhile
        if fields[0] != "Z" and int(fields[2]) == pgid:
            alive.append(f"{stat.parent.name} {cmdline[:120]}")
    return alive


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc (Linux)")
def test_sigkill_of_the_parent_leaves_no_worker_behind(folder_tree: Path, tmp_path: Path) -> None:
    cmd = [
        sys.executable,
        str(ROOT / "preprocess.py"),
        "data=folder",
        f"data.root={folder_tree}",
        f"paths.data_dir={tmp_path / 'data'}",
        "data.frames_per_video=4",
        "preprocessor.detect_every=1",
        "preprocessor.cropper.size=64",
        "workers=2",
        "progress=false",
        f"hydra.run.dir={tmp_path / 'killed'}",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        parts = tmp_path / "data" / "processed" / "folder" / "parts"
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None and not list(parts.rglob("*.parquet")):
            time.sleep(0.01)
        if proc.poll() is not None:
            pytest.fail(f"the run ended (rc={proc.returncode}) before it could be killed")
        assert len(_group(proc.pid)) >= 4  # the parent, two busy workers and multiprocessing's resource tracker
        os.kill(proc.pid, signal.SIGKILL)  # the parent alone, as the OOM killer or `kill -9 <pid>` would
        proc.wait()
        killed = time.monotonic()
        while time.monotonic() < killed + 30 and _group(proc.pid):
            time.sleep(0.1)
        left = _group(proc.pid)
        assert not left, f"outlived their parent by {time.monotonic() - killed:.0f} s: {left}"
        print(f"workers and resource tracker ended {time.monotonic() - killed:.2f} s after the parent's SIGKILL")
    finally:
        if _group(proc.pid):
            os.killpg(proc.pid, signal.SIGKILL)
