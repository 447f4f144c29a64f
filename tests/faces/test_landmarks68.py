"""The dlib 68-point landmark backend, for real: dlib from the dlib-bin wheel, the model from its Python package."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir

from dfdet.data.manifest import read_manifest
from dfdet.data.synthesis import SynthesizedFrameDataset
from dfdet.faces import Dlib68Landmarks, FaceDetector, LandmarkBackendError
from dfdet.faces.landmarks68 import dlib_box, packaged_predictor
from dfdet.sync import lip_aperture
from dfdet.tasks.common import run_entry
from dfdet.tasks.preprocess import preprocess
from dfdet.testing.media import ClipBank, face_frames, make_folder

CONF = Path(__file__).resolve().parents[2] / "conf"


@pytest.fixture(scope="module")
def clip_bank(tmp_path_factory: pytest.TempPathFactory) -> ClipBank:
    return ClipBank(tmp_path_factory.mktemp("clips"), frames=6, variants=1)


def test_without_dlib_the_error_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "dlib", None)  # import dlib raises ImportError
    with pytest.raises(LandmarkBackendError, match=r"uv sync") as info:
        Dlib68Landmarks()
    assert "\n" not in str(info.value)


def test_the_model_file_comes_from_the_installed_package_without_importing_it() -> None:
    sys.modules.pop("face_recognition_models", None)
    path = packaged_predictor()
    assert path is not None and path.name == "shape_predictor_68_face_landmarks.dat" and path.stat().st_size > 9e7
    assert "face_recognition_models" not in sys.modules  # its __init__ needs pkg_resources
    assert Dlib68Landmarks().predictor_path == str(path)


def test_missing_predictor_file_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "shape_predictor_68_face_landmarks.dat"
    with pytest.raises(LandmarkBackendError, match="face-recognition-models") as info:
        Dlib68Landmarks(str(missing))
    assert str(missing) in str(info.value) and "\n" not in str(info.value)


def test_points_on_a_real_face_fall_on_its_features() -> None:
    frame = face_frames(1, size=(200, 160), seed=3)[0]
    box = FaceDetector(max_side=None, min_face_size=40).detect([frame])[0]
    backend = Dlib68Landmarks()
    points = backend(frame, dlib_box(box.boxes[0]))
    assert points.shape == (68, 2) and points.dtype == np.float32
    five = box.landmarks[0]  # MTCNN's eyes, nose, mouth corners
    eyes = np.stack([points[36:42].mean(0), points[42:48].mean(0)])
    assert np.abs(eyes - five[:2]).max() < 6  # the two detectors agree on the eyes within a few pixels
    assert np.abs(points[[48, 54]] - five[3:]).max() < 8  # and on the mouth corners
    assert 0.1 < float(lip_aperture(points)) < 1.0
    grey = frame.astype(np.float32).mean(axis=2).astype(np.uint8)
    np.testing.assert_allclose(backend(grey, dlib_box(box.boxes[0])), points, atol=3)  # grey frames work too


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


def _backend(path: Path | str | None = None) -> str:
    if path is None:  # the packaged model
        return "preprocessor.landmarks68={_target_:dfdet.faces.landmarks68.Dlib68Landmarks}"
    return f"preprocessor.landmarks68={{_target_:dfdet.faces.landmarks68.Dlib68Landmarks,predictor_path:'{path}'}}"


def test_preprocessing_writes_68_points_per_crop_and_synthesis_uses_them(tmp_path: Path, clip_bank: ClipBank) -> None:
    tree = make_folder(tmp_path / "release", clip_bank)
    summary = preprocess(_cfg(tmp_path, "data=folder", f"data.root={tree}", _backend()))
    assert summary["done"] == 7
    df = read_manifest(tmp_path / "data" / "processed" / "folder" / "manifest.parquet")
    assert df["landmarks68"].map(len).eq(136).all() and df["landmarks"].map(len).eq(10).all()
    marks = np.stack(df["landmarks68"].to_numpy()).reshape(-1, 68, 2)
    assert ((marks > -1) & (marks < 65)).all()  # crop pixels (the box lies inside the 64-px crop)
    five = np.stack(df["landmarks"].to_numpy()).reshape(-1, 5, 2)
    eyes = np.stack([marks[:, 36:42].mean(1), marks[:, 42:48].mean(1)], axis=1)
    assert np.abs(eyes - five[:, :2]).max() < 4  # on the same eyes as MTCNN's points (dlib's box convention)

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
    tmp_path: Path, clip_bank: ClipBank, capsys: pytest.CaptureFixture
) -> None:
    tree = make_folder(tmp_path / "release", clip_bank)
    cfg = _cfg(tmp_path, "data=folder", f"data.root={tree}", _backend(tmp_path / "missing.dat"))
    with pytest.raises(SystemExit):
        run_entry(preprocess, cfg)
    err = capsys.readouterr().err.strip()
    assert "missing.dat" in err and "face-recognition-models" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "data" / "processed" / "folder" / "parts").exists()  # before any video
