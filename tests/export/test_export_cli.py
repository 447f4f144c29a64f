"""export.py's user errors: a clear message on stderr, exit code 2, no traceback, no files left behind."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ARTIFACTS = ("*.onnx", "*.torchscript", "*.json", "*.tmp", "exported")


def artifacts(folder: Path) -> list[Path]:
    return [p for pattern in ARTIFACTS for p in folder.rglob(pattern) if ".hydra" not in p.parts]


def test_missing_and_corrupt_checkpoints_exit_cleanly(run_cli, tmp_path: Path) -> None:
    missing = tmp_path / "missing" / "checkpoints" / "best.ckpt"
    corrupt = tmp_path / "corrupt" / "checkpoints" / "best.ckpt"
    corrupt.parent.mkdir(parents=True)
    corrupt.write_bytes(os.urandom(4096))
    ckpts = {"missing": missing, "corrupt": corrupt}

    def export(case: str):  # each case in its own Hydra run folder (the last hydra.run.dir wins)
        return run_cli("export.py", f"hydra.run.dir={tmp_path / 'cli' / case}", f"ckpt_path={ckpts[case]}")

    with ThreadPoolExecutor(2) as pool:  # the two interpreters start at once: their imports dominate the time
        procs = dict(zip(ckpts, pool.map(export, ckpts), strict=True))

    for case, proc in procs.items():
        assert proc.returncode == 2, (case, proc.stderr)
        assert proc.stderr.startswith("error: Checkpoint"), (case, proc.stderr)
        assert "Traceback" not in proc.stderr + proc.stdout, case
    assert f"Checkpoint not found: {missing}" in procs["missing"].stderr
    assert f"Checkpoint {corrupt} is unreadable or corrupt" in procs["corrupt"].stderr
    assert artifacts(tmp_path) == []
    assert sorted(p.name for p in corrupt.parent.parent.iterdir()) == ["checkpoints"]
