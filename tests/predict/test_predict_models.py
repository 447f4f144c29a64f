"""Prediction with the trained tiny model, as ONNX (onnxruntime alone) and as a checkpoint, through the task and CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

CONF = Path(__file__).resolve().parents[2] / "conf"


def compose_predict(*overrides: str) -> DictConfig:
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose("predict", overrides=["predictor.faces.frames_per_video=8", *overrides])


def test_onnx_and_checkpoint_agree(make_predictor, onnx_path: Path, ckpt_path: Path, media: dict[str, Path]) -> None:
    onnx, ckpt = make_predictor(onnx_path, explain_frames=2), make_predictor(ckpt_path, explain_frames=2)
    assert onnx.info.version == ckpt.info.version  # both name the checkpoint's sha256
    assert onnx.info.threshold == pytest.approx(ckpt.info.threshold)
    for key in ("image", "video"):
        a = onnx.predict(media[key], explain=True)
        b = ckpt.predict(media[key], explain=True)
        ra, rb = a.result, b.result
        assert "error" not in ra and 0.0 <= ra["fake_probability"] <= 1.0
        assert ra["fake_probability"] == pytest.approx(rb["fake_probability"], abs=1e-5)
        assert ra["label"] == ("fake" if ra["fake_probability"] >= ra["threshold"] else "real")
        np.testing.assert_allclose([f["score"] for f in ra["frames"]], [f["score"] for f in rb["frames"]], atol=1e-5)
        assert ra["model"]["format"] == "onnx" and rb["model"]["format"] == "checkpoint"
        assert ra["explanation_method"] == "occlusion" and rb["explanation_method"] == "grad-cam"
        assert len(a.faces) == len(ra["explanations"]) == min(2, len(ra["frames"]))
        assert a.faces[0].crop.shape == (256, 256, 3) and a.faces[0].heat.shape == (64, 64)
        assert ra["seconds"] > 0
    video = ra
    assert video["kind"] == "video" and video["num_frames"] == 12 and video["frames_sampled"] == 8
    assert len(video["frames"]) + video["frames_without_face"] == 8
    box = video["frames"][0]["box"]
    assert len(box) == 4 and box[2] > box[0] and box[3] > box[1]
    assert video["fake_probability"] == pytest.approx(np.mean([f["score"] for f in video["frames"]]))


def test_bad_files_give_error_results(make_predictor, onnx_path: Path, media: dict[str, Path]) -> None:
    predictor = make_predictor(onnx_path)
    expected = {
        "noface": "no_face",
        "corrupt": "unreadable",
        "text": "unsupported_type",
        "audio": "wrong_modality",
        "bomb": "image_too_large",
    }
    for key, code in expected.items():
        result = predictor.predict(media[key]).result
        assert result["error"]["code"] == code, (key, result)
        assert result["fake_probability"] is None and result["label"] is None
    assert "this model scores faces" in predictor.predict(media["audio"]).result["error"]["message"]


def test_content_decides_not_the_name(make_predictor, onnx_path: Path, media: dict[str, Path], tmp_path: Path) -> None:
    predictor = make_predictor(onnx_path)
    renamed = tmp_path / "holiday.mp4"
    renamed.write_bytes(media["image"].read_bytes())
    result = predictor.predict(renamed).result
    assert result["kind"] == "image" and result["file"] == "holiday.mp4"
    assert result["fake_probability"] == pytest.approx(predictor.predict(media["image"]).result["fake_probability"])


def test_threshold_and_aggregation_overrides(make_predictor, onnx_path: Path, media: dict[str, Path]) -> None:
    from dfdet.predict import PredictError

    high = make_predictor(onnx_path, threshold=1.0, aggregation="max").predict(media["video"]).result
    assert high["label"] == "real" and high["threshold"] == 1.0 and high["aggregation"] == "max"
    assert high["fake_probability"] == pytest.approx(max(f["score"] for f in high["frames"]))
    with pytest.raises(PredictError, match="aggregation"):
        make_predictor(onnx_path, aggregation="median")


def test_predict_task_writes_json_and_overlays(onnx_path: Path, media: dict[str, Path], tmp_path: Path) -> None:
    from dfdet.tasks.predict import predict

    folder = media["image"].parent
    results = predict(
        compose_predict(f"model_path={onnx_path}", f"input={folder}", f"output_dir={tmp_path}", "explain=true")
    )
    by_file = {r["file"]: r for r in results}
    assert set(by_file) == {p.name for p in folder.iterdir()}  # every file, each with a result or an error
    assert by_file["face.jpg"]["label"] in ("fake", "real")
    assert by_file["grey.png"]["error"]["code"] == "no_face"
    assert json.loads((tmp_path / "clip.mp4.json").read_text())["kind"] == "video"
    assert len((tmp_path / "predictions.jsonl").read_text().splitlines()) == len(results)
    overlays = sorted((tmp_path / "face.jpg.explain").glob("*_overlay.png"))
    assert overlays and overlays[0].read_bytes().startswith(b"\x89PNG")
    assert by_file["face.jpg"]["explanations"][0]["overlay_png"] == str(overlays[0])


def test_onnx_prediction_imports_no_training_stack(
    onnx_path: Path, onnx_audio_path: Path, media: dict[str, Path], tmp_path: Path
) -> None:
    from dfdet.testing.media import face_frames, write_video

    voice = (0.2 * np.sin(2 * np.pi * 140 * np.arange(16000) / 16000)).astype(np.float32)
    talk = write_video(tmp_path / "talk.mp4", face_frames(8, size=(192, 144), seed=2), 10, voice)
    code = f"""
import sys
import dfdet.tasks.predict
from dfdet.faces import FaceCropper, FaceDetector, FaceTracker
from dfdet.predict import Predictor, load_model
from dfdet.preprocess.pipeline import VideoPreprocessor
faces = VideoPreprocessor(FaceDetector(), FaceTracker(), FaceCropper(), frames_per_video=4)
result = Predictor(load_model({str(onnx_path)!r}), faces).predict({str(media["image"])!r}, explain=True).result
assert result["fake_probability"] is not None, result
sound = Predictor(load_model({str(onnx_audio_path)!r}), faces)  # face and voice, both ONNX
from dfdet.predict.suite import ROLES, Member, Suite
suite = Suite([Member("face", ROLES["face"], Predictor(load_model({str(onnx_path)!r}), faces)),
               Member("voice", ROLES["voice"], sound)])
result = suite.predict({str(talk)!r}).result
assert result["models"]["voice"]["fake_probability"] is not None and result["verdict"] is not None, result
heavy = ("lightning", "pytorch_lightning", "timm", "torchmetrics", "albumentations", "torchvision", "facenet_pytorch")
print(sorted(m for m in heavy if m in sys.modules))
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"


def test_cli(run_cli, onnx_path: Path, media: dict[str, Path], tmp_path: Path) -> None:
    """The one subprocess smoke test of predict.py: a video scored, its JSON on stdout and in the run folder."""
    proc = run_cli("predict.py", f"model={onnx_path}", f"input={media['video']}", "predictor.faces.frames_per_video=4")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["file"] == "clip.mp4" and 0 <= result["fake_probability"] <= 1
    assert (tmp_path / "cli" / "clip.mp4.json").is_file()


def test_missing_model_is_one_line(media: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from dfdet.tasks.common import run_entry
    from dfdet.tasks.predict import model_alias, predict

    args = model_alias(["model=/nonexistent/model.onnx", f"input={media['image']}", f"output_dir={tmp_path}"])
    with pytest.raises(SystemExit) as exit_info:
        run_entry(predict, compose_predict(*args))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: Model file not found: /nonexistent/model.onnx") and "\n" not in err, err


def test_all_files_failing_is_a_user_error(onnx_path: Path, media: dict[str, Path], tmp_path: Path) -> None:
    from dfdet.predict import PredictError
    from dfdet.tasks.predict import predict

    with pytest.raises(PredictError, match="none of the 1 file"):
        predict(compose_predict(f"model_path={onnx_path}", f"input={media['text']}", f"output_dir={tmp_path}"))
    assert json.loads((tmp_path / "notes.jpg.json").read_text())["error"]["code"] == "unsupported_type"
    with pytest.raises(PredictError, match="does not exist"):
        predict(compose_predict(f"model_path={onnx_path}", "input=/nonexistent", f"output_dir={tmp_path}"))
