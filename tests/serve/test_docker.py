"""The Dockerfile: builds the CPU image and smoke-tests it (keys required, a face scored, readiness). Skipped where
no Docker daemon answers (and the build needs the package index: CI with Docker and network)."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest
from omegaconf import OmegaConf

from dfdet.serve.keys import mint

ROOT = Path(__file__).resolve().parents[2]


def docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def docker(*args: str, timeout: float = 60) -> str:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip()


@pytest.mark.slow
@pytest.mark.skipif(not docker_available(), reason="no Docker daemon answers `docker info`")
def test_image_builds_and_serves(trained_run: tuple[Path, dict[str, float]], face_jpeg: bytes, tmp_path: Path) -> None:
    from dfdet.export import ExportOptions, export_detector
    from dfdet.models import load_detector

    ckpt = trained_run[0] / "checkpoints" / "best.ckpt"
    model, cfg = load_detector(ckpt)
    models = tmp_path / "models"
    options = ExportOptions(formats=("onnx",), verify=False, speed_batch_size=None)
    export_detector(model, model.run_config or OmegaConf.to_container(cfg), models, "model", options, checkpoint=ckpt)
    models.chmod(0o755)
    (models / "model.onnx").chmod(0o644)
    tag = f"dfdet-test:{uuid.uuid4().hex[:8]}"
    docker("build", "-t", tag, str(ROOT), timeout=3600)
    key, line = mint("ci")
    name = f"dfdet-test-{uuid.uuid4().hex[:8]}"
    try:
        refused = subprocess.run(["docker", "run", "--rm", tag], capture_output=True, text=True, timeout=300)
        assert refused.returncode == 2 and "refusing to start" in refused.stderr  # 0.0.0.0 without keys
        docker("run", "-d", "--name", name, "-p", "127.0.0.1::8000", "-v", f"{models}:/models:ro",
               "-e", f"DFDET_API_KEYS={line}", tag)  # fmt: skip
        url = "http://" + docker("port", name, "8000/tcp").splitlines()[0].replace("0.0.0.0", "127.0.0.1")
        deadline = time.monotonic() + 300
        while True:
            try:
                if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, docker("logs", name)[-3000:]
            time.sleep(1)
        files = {"file": ("face.jpg", face_jpeg)}
        assert httpx.post(f"{url}/v1/predict", files=files, timeout=120).status_code == 401
        scored = httpx.post(f"{url}/v1/predict", files=files, headers={"x-api-key": key}, timeout=120)
        assert scored.status_code == 200 and 0 <= scored.json()["fake_probability"] <= 1, scored.text
        logs = subprocess.run(["docker", "logs", name], capture_output=True, text=True).stderr
        assert key not in logs and '"request_id"' in logs
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)
