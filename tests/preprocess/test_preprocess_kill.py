"""A preprocessing run killed with SIGKILL mid-way resumes to exactly the result of an uninterrupted run."""

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
