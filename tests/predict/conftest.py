"""Fixtures of the prediction tests: generated media with a real face, the trained tiny model as ONNX and checkpoint."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import OmegaConf
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]


def bomb_png(path: Path, side: int = 100_000) -> Path:
    """A tiny PNG whose header announces ``side`` x ``side`` pixels (a decompression bomb's signature)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    header = side.to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])  # 8-bit greyscale
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
        + chunk(b"IEND", b"")
    )
    return path


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A folder of test files: real face (astronaut) image and video, no-face image, corrupt, text, audio, bomb."""
    import soundfile as sf

    from dfdet.testing.media import face_frames, write_corrupt, write_video

    folder = tmp_path_factory.mktemp("media")
    frames = face_frames(12, size=(192, 144), seed=1)
    files = {
        "image": folder / "face.jpg",
        "png": folder / "face.png",
        "video": folder / "clip.mp4",
        "noface": folder / "grey.png",
        "corrupt": folder / "broken.mp4",
        "text": folder / "notes.jpg",  # a text file with an image name
        "audio": folder / "tone.wav",
    }
    Image.fromarray(frames[0]).save(files["image"], quality=92)
    Image.fromarray(frames[3]).save(files["png"])
    write_video(files["video"], frames, fps=10)
    Image.new("RGB", (160, 120), (128, 128, 128)).save(files["noface"])
    write_corrupt(files["corrupt"])
    files["text"].write_text("not an image\n")
    t = np.arange(24000) / 16000
    sf.write(files["audio"], (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16000)
    files["bomb"] = bomb_png(folder / "bomb.png")
    return files


@pytest.fixture(scope="session")
def ckpt_path(trained_run: tuple[Path, dict[str, float]]) -> Path:
    return trained_run[0] / "checkpoints" / "best.ckpt"


@pytest.fixture(scope="session")
def onnx_path(ckpt_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The trained checkpoint exported with dfdet.export (ONNX only, verification off: the export tests check it)."""
    from dfdet.export import ExportOptions, export_detector
    from dfdet.models import load_detector

    model, cfg = load_detector(ckpt_path)
    out = tmp_path_factory.mktemp("exported")
    options = ExportOptions(formats=("onnx",), verify=False, speed_batch_size=None)
    export_detector(model, model.run_config or OmegaConf.to_container(cfg), out, "tiny", options, checkpoint=ckpt_path)
    return out / "tiny.onnx"


@pytest.fixture(scope="session")
def faces() -> object:
    """The face pipeline of conf/predict.yaml with 8 sampled frames (one MTCNN for the whole session)."""
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("predict", ["model_path=unused", "input=unused", "predictor.faces.frames_per_video=8"])
    return instantiate(cfg.predictor.faces)


@pytest.fixture
def make_predictor(faces: object) -> Callable[..., object]:
    """``make_predictor(model_path, **options)``: a Predictor sharing the session's face pipeline."""
    from dfdet.predict import Predictor, load_model

    def make(path: Path, **options: object) -> object:
        return Predictor(load_model(path), faces, **options)  # type: ignore[arg-type]

    return make
