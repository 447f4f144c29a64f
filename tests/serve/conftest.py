"""Fixtures of the API tests: a face image, the trained tiny model behind a Predictor, and a scriptable fake one."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from PIL import Image

from dfdet.predict import ModelInfo, Prediction

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def face_jpeg() -> bytes:
    """A JPEG of a real face (scikit-image's astronaut, framed by dfdet.testing.media)."""
    from dfdet.testing.media import face_frames

    buffer = io.BytesIO()
    Image.fromarray(face_frames(1, size=(192, 144))[0]).save(buffer, format="JPEG", quality=92)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def predictor(trained_run: tuple[Path, dict[str, float]]) -> Any:
    """The trained tiny checkpoint (Grad-CAM explanations) with the face pipeline of conf/predict.yaml, 8 frames."""
    from dfdet.predict import Predictor, load_model

    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("predict", ["model_path=unused", "input=unused", "predictor.faces.frames_per_video=8"])
    return Predictor(load_model(trained_run[0] / "checkpoints" / "best.ckpt"), instantiate(cfg.predictor.faces))


class FakePredictor:
    """Stands in for a Predictor: waits on ``gate`` (or sleeps ``delay``), then answers, or raises ``error``."""

    info = ModelInfo("fake", "0", "onnx", "face", "none", 64, (0.5,) * 3, (0.5,) * 3, 0.5, "config")

    def __init__(self, delay: float = 0.0, error: Exception | None = None) -> None:
        self.delay = delay
        self.error = error
        self.gate = threading.Event()  # cleared by a test to hold predictions
        self.gate.set()
        self.seen: list[Path] = []

    def predict(self, path: Path, name: str | None = None, explain: bool = False) -> Prediction:
        self.seen.append(Path(path))
        assert Path(path).is_file()
        if self.delay:
            time.sleep(self.delay)
        self.gate.wait(30)
        if self.error is not None:
            raise self.error
        return Prediction({"file": name, "fake_probability": 0.25, "label": "real", "threshold": 0.5})


@pytest.fixture
def fake_predictor() -> Callable[..., FakePredictor]:
    return FakePredictor


@contextmanager
def serving(app: Any, header_timeout_s: float = 10.0) -> Iterator[str]:
    """``app`` served by :func:`dfdet.serve.build_server` on a free port of 127.0.0.1 in a thread; yields its URL."""
    from dfdet.serve import build_server, local_socket

    sock = local_socket()
    server = build_server(app, "127.0.0.1", 0, header_timeout_s, max_connections=1024, log_level="warning")
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started and thread.is_alive():
        thread.join(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture
def live_server() -> Callable[..., Any]:
    """:func:`serving`: ``with live_server(app, header_timeout_s) as url``."""
    return serving
