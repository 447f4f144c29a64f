"""export.py's user errors: a clear message on stderr, exit code 2, no traceback, no files left behind."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from omegaconf import DictConfig

from dfdet.tasks.common import run_entry
from dfdet.tasks.export import export

ARTIFACTS = ("*.onnx", "*.torchscript", "*.json", "*.tmp", "exported")


def artifacts(folder: Path) -> list[Path]:
    return [p for pattern in ARTIFACTS for p in folder.rglob(pattern) if ".hydra" not in p.parts]


def test_missing_checkpoint_exits_cleanly(run_cli, tmp_path: Path) -> None:
    """The one subprocess smoke test of export.py: the script starts, and a user error is one line, exit code 2."""
    missing = tmp_path / "missing" / "checkpoints" / "best.ckpt"
    proc = run_cli("export.py", f"ckpt_path={missing}")
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert proc.stderr.startswith(f"error: Checkpoint not found: {missing}"), proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert artifacts(tmp_path) == []


@pytest.mark.parametrize("case", ["missing", "corrupt"])
def test_missing_and_corrupt_checkpoints_are_one_line_and_leave_no_files(
    case: str, compose_cfg: Callable[[str, list[str]], DictConfig], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    ckpt = tmp_path / case / "checkpoints" / "best.ckpt"
    if case == "corrupt":
        ckpt.parent.mkdir(parents=True)
        ckpt.write_bytes(os.urandom(4096))
    cfg = compose_cfg("export", [f"ckpt_path={ckpt}", f"paths.output_dir={tmp_path / 'run'}"])
    with pytest.raises(SystemExit) as exit_info:
        run_entry(export, cfg)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    expected = f"Checkpoint not found: {ckpt}" if case == "missing" else f"Checkpoint {ckpt} is unreadable or corrupt"
    assert err.startswith(f"error: {expected}") and "\n" not in err, err
    assert artifacts(tmp_path) == []
    if case == "corrupt":
        assert sorted(p.name for p in ckpt.parent.parent.iterdir()) == ["checkpoints"]
