"""serve.py as a command: one subprocess smoke test (the server starts and answers), and its user errors in-process."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest
from omegaconf import DictConfig

from dfdet.tasks.common import run_entry
from dfdet.tasks.serve import serve

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_serve_py_starts_and_answers(trained_run: tuple[Path, dict[str, float]], tmp_path: Path) -> None:
    """The one subprocess smoke test of serve.py: it loads a checkpoint, answers /healthz, and stops on SIGINT."""
    port = free_port()
    ckpt = trained_run[0] / "checkpoints" / "best.ckpt"
    cmd = [sys.executable, str(ROOT / "serve.py"), f"model={ckpt}", f"port={port}", "log_level=warning"]
    log = tmp_path / "serve.log"
    with log.open("w") as sink:
        proc = subprocess.Popen([*cmd, f"hydra.run.dir={tmp_path / 'cli'}"], stdout=sink, stderr=sink, cwd=tmp_path)
        try:
            health, deadline = None, time.monotonic() + 240
            while health is None and time.monotonic() < deadline and proc.poll() is None:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
                        health = json.loads(answer.read())
                except OSError:
                    time.sleep(0.2)
            assert health is not None, log.read_text()[-3000:]
            assert health["status"] == "ok" and health["model"]["name"] == "best", health
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=60) == 0, log.read_text()[-3000:]
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert "Traceback" not in log.read_text()


def test_missing_model_is_one_line(
    compose_cfg: Callable[[str, list[str]], DictConfig], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    for override, expected in (
        ("model_path=null", "model= is required"),
        (f"model_path={tmp_path}/x.onnx", "not found"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            run_entry(serve, compose_cfg("serve", [override, f"paths.output_dir={tmp_path}"]))
        assert exit_info.value.code == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and expected in err and "\n" not in err, err
