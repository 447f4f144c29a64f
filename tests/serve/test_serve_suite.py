"""serve.py with a detector suite, in-process: /healthz describes the suite, an upload is answered by the models that
apply to it with its content credentials, and a suite member without a model file is one line at start-up."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from omegaconf import DictConfig

from dfdet.tasks.common import run_entry
from dfdet.tasks.serve import serve


def test_serve_task_serves_a_suite(
    monkeypatch: pytest.MonkeyPatch, compose_cfg: Callable[[str, list[str]], DictConfig], tmp_path: Path,
    untrained_face_ckpt: Path, image_onnx: Path, onnx_audio_path: Path,
) -> None:  # fmt: skip
    import soundfile as sf
    from fastapi.testclient import TestClient

    import dfdet.tasks.serve as task

    buffer = io.BytesIO()
    sf.write(buffer, (0.2 * np.sin(np.arange(16000) / 5)).astype(np.float32), 16000, format="WAV")
    answers: dict[str, Any] = {}

    def fake_server(app: Any, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        def run(self: Any) -> None:  # while "serving": the app's prediction threads are up
            client = TestClient(app, base_url="http://127.0.0.1")  # a Host the server allows
            answers["health"] = client.get("/healthz").json()
            note = ("note.wav", buffer.getvalue(), "audio/wav")
            answers["predict"] = client.post("/v1/predict", files={"file": note})

        return type("Server", (), {"run": run})()

    monkeypatch.setattr(task, "build_server", fake_server)
    paths = [
        f"model_path={untrained_face_ckpt}",
        f"image_model_path={image_onnx}",
        f"audio_model_path={onnx_audio_path}",
    ]
    cfg = compose_cfg("serve", ["suite=face_image_voice", *paths, f"limits.upload_dir={tmp_path}"])
    task.serve(cfg)
    health, answer = answers["health"], answers["predict"]
    assert health["suite"]["rule"] == "strongest"
    assert {n: m["role"] for n, m in health["suite"]["models"].items()} == {"face": "face", "image": "image",
                                                                             "voice": "voice"}  # fmt: skip
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert [n for n, m in result["models"].items() if m["routed"]] == ["voice"]
    assert result["verdict"] == result["models"]["voice"]["verdict"]
    assert result["content_credentials"]["summary"] == "no C2PA manifest"


def test_a_suite_member_without_a_model_is_one_line(
    compose_cfg: Callable[[str, list[str]], DictConfig], tmp_path: Path, capsys: pytest.CaptureFixture,
    untrained_face_ckpt: Path,
) -> None:  # fmt: skip
    cfg = compose_cfg(
        "serve", ["suite=face_image_voice", f"model_path={untrained_face_ckpt}", f"paths.output_dir={tmp_path}"]
    )
    with pytest.raises(SystemExit) as exit_info:
        run_entry(serve, cfg)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: suite model 'image' has no path (set suite.models.image.path=<model.onnx|.ckpt>)", err
