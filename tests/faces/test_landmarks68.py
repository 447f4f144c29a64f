"""The optional dlib 68-point landmark backend, with a fake ``dlib`` module (dlib itself is not a test dependency)."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir

from dfdet.data.manifest import read_manifest
from dfdet.data.synthesis import SynthesizedFrameDataset
from dfdet.faces import Dlib68Landmarks, LandmarkBackendError
from dfdet.tasks.common import run_entry
from dfdet.tasks.preprocess import preprocess
from dfdet.testing.media import ClipBank, make_folder

CONF = Path(__file__).resolve().parents[2] / "conf"


class _Point:
    def __init__(self, x: int, y: int) -> None:
        self.x, self.y = x, y


class _Rect:
    def __init__(self, left: int, top: int, right: int, bottom: int) -> None:
        self.l, self.t, self.r, self.b = left, top, right, bottom


class _Shape:
    def __init__(self, points: list[_Point]) -> None:
        self._points = points

    def parts(self) -> list[_Point]:
        return self._points


def _fake_dlib(loaded: list[str]) -> types.ModuleType:
    """68 points on an ellipse inscribed in the box (frame pixels), like a predictor would give."""

    def shape_predictor(path: str):
        loaded.append(path)

        def predict(image: np.ndarray, rect: _Rect) -> _Shape:
            assert image.dtype == np.uint8 and image.ndim == 3
            angles = np.linspace(0, 2 * np.pi, 68, endpoint=False)
            cx, cy = (rect.l + rect.r) / 2, (rect.t + rect.b) / 2
            rx, ry = (rect.r - rect.l) / 2, (rect.b - rect.t) / 2
            return _Shape([_Point(int(cx + rx * np.cos(a)), int(cy + ry * np.sin(a))) for a in angles])

        return predict

    fake = types.ModuleType("dlib")
    fake.shape_predictor = shape_predictor  # type: ignore[attr-defined]
    fake.rectangle = _Rect  # type: ignore[attr-defined]
    return fake


@pytest.fixture(scope="module")
def clip_bank(tmp_path_factory: pytest.TempPathFactory) -> ClipBank:
    return ClipBank(tmp_path_factory.mktemp("clips"), frames=6, variants=1)


@pytest.fixture
def predictor_file(tmp_path: Path) -> Path:
    path = tmp_path / "shape_predictor_68_face_landmarks.dat"
    path.write_bytes(b"fake")
    return path


@pytest.fixture
def fake_dlib(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    loaded: list[str] = []
    monkeypatch.setitem(sys.modules, "dlib", _fake_dlib(loaded))
    return loaded


def test_without_dlib_the_error_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch, predictor_file: Path) -> None:
    monkeypatch.setitem(sys.modules, "dlib", None)  # import dlib raises ImportError
    with pytest.raises(LandmarkBackendError, match=r"uv sync --extra dlib") as info:
        Dlib68Landmarks(str(predictor_file))
    assert "\n" not in str(info.value)


def test_missing_predictor_file_names_the_path_and_the_download(fake_dlib: list[str], tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "shape_predictor_68_face_landmarks.dat"
    with pytest.raises(LandmarkBackendError, match="dlib.net/files/shape_predictor_68_face_landmarks.dat.bz2") as info:
        Dlib68Landmarks(str(missing))
    assert str(missing) in str(info.value) and "\n" not in str(info.value)


def test_points_come_back_in_frame_pixels(fake_dlib: list[str], predictor_file: Path) -> None:
    backend = Dlib68Landmarks(str(predictor_file))
    assert fake_dlib == []  # the predictor is loaded on first use
    frame = np.zeros((120, 160, 3), np.uint8)
    points = backend(frame, np.array([40.2, 20.0, 100.0, 90.4], np.float32))
    assert points.shape == (68, 2) and points.dtype == np.float32
    assert fake_dlib == [str(predictor_file)]
    assert points[:, 0].min() == 40 and points[:, 0].max() == 100 and points[0].tolist() == [100, 55]
    assert points[:, 1].min() >= 20 and points[:, 1].max() <= 90
    backend(frame, np.array([0, 0, 50, 50]))
    assert len(fake_dlib) == 1  # loaded once


def _tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(image))


def _cfg(tmp_path: Path, *overrides: str):
    base = [
        "data.frames_per_video=4",
        "preprocessor.detect_every=1",
        "preprocessor.cropper.size=64",
        "workers=1",
        "progress=false",
        f"paths.data_dir={tmp_path / 'data'}",
        f"paths.output_dir={tmp_path / 'run'}",
    ]
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose("preprocess", overrides=[*base, *overrides])


def _backend(path: Path | str) -> str:
    return f"preprocessor.landmarks68={{_target_:dfdet.faces.landmarks68.Dlib68Landmarks,predictor_path:'{path}'}}"


def test_preprocessing_writes_68_points_per_crop_and_synthesis_uses_them(
    fake_dlib: list[str], predictor_file: Path, tmp_path: Path, clip_bank: ClipBank
) -> None:
    tree = make_folder(tmp_path / "release", clip_bank)
    summary = preprocess(_cfg(tmp_path, "data=folder", f"data.root={tree}", _backend(predictor_file)))
    assert summary["done"] == 7
    df = read_manifest(tmp_path / "data" / "processed" / "folder" / "manifest.parquet")
    assert df["landmarks68"].map(len).eq(136).all() and df["landmarks"].map(len).eq(10).all()
    marks = np.stack(df["landmarks68"].to_numpy()).reshape(-1, 68, 2)
    assert ((marks > -1) & (marks < 65)).all()  # crop pixels (the box lies inside the 64-px crop)

    seen: list[int] = []

    class Recorder:
        method, real_only = "sbi", True

        def __call__(self, image, landmarks, partner, rng):  # noqa: ANN001, ANN204
            seen.append(len(landmarks))
            return image

    data = SynthesizedFrameDataset(df, np.zeros(len(df), np.int64), _tensor, Recorder())  # type: ignore[arg-type]
    data[1]
    assert seen == [136]
    data = SynthesizedFrameDataset(df.drop(columns="landmarks68"), np.zeros(len(df), np.int64), _tensor, Recorder())  # type: ignore[arg-type]
    data[1]
    assert seen == [136, 10]


def test_preprocess_with_a_missing_predictor_fails_fast_in_one_line(
    fake_dlib: list[str], tmp_path: Path, clip_bank: ClipBank, capsys: pytest.CaptureFixture
) -> None:
    tree = make_folder(tmp_path / "release", clip_bank)
    cfg = _cfg(tmp_path, "data=folder", f"data.root={tree}", _backend(tmp_path / "missing.dat"))
    with pytest.raises(SystemExit):
        run_entry(preprocess, cfg)
    err = capsys.readouterr().err.strip()
    assert "missing.dat" in err and "bz2" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "data" / "processed" / "folder" / "parts").exists()  # before any video
