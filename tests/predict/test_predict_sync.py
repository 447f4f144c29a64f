"""Prediction results of videos with sound carry the sync measure (offset of the sound against the lips)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dfdet.sync import SyncMeasure
from dfdet.testing.media import write_talking_face


@pytest.fixture(scope="module")
def talking(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, float]:
    return write_talking_face(tmp_path_factory.mktemp("talk") / "talk.mp4", seconds=2.4, fps=25, seed=4)


def test_a_video_with_sound_gets_its_sync_offset_and_confidence(
    make_predictor, untrained_face_ckpt: Path, talking: tuple[Path, float], media: dict[str, Path], tmp_path: Path
) -> None:
    path, lead = talking
    predictor = make_predictor(untrained_face_ckpt, sync=SyncMeasure(detect_every_s=1.0))
    result = predictor.predict(path).result
    sync = result["sync"]
    assert abs(sync["offset_frames"] - lead) <= 1 and sync["offset_s"] == pytest.approx(sync["offset_frames"] / 25)
    assert sync["confidence"] > 0.1 and sync["fps"] == 25 and sync["face_fraction"] > 0.9
    assert sync["windows"] and {"start", "end", "offset_frames", "confidence"} <= set(sync["windows"][0])
    json.dumps(result)  # plain JSON
    assert predictor.predict(media["video"]).result["sync"]["error"]["code"] == "no_audio_track"
    assert "sync" not in predictor.predict(media["image"]).result
    short = write_talking_face(tmp_path / "short.mp4", seconds=1.0, fps=25, seed=1)[0]  # 25 frames: lags of ±15 need 38
    assert predictor.predict(short).result["sync"]["error"]["code"] == "not_measurable"


@pytest.mark.slow
def test_predict_py_measures_sync_by_default(
    untrained_face_ckpt: Path, talking: tuple[Path, float], tmp_path: Path, capsys: pytest.CaptureFixture, compose_cfg
) -> None:
    from dfdet.tasks.predict import model_alias, predict

    path, lead = talking
    args = [f"model={untrained_face_ckpt}", f"input={path}", f"output_dir={tmp_path / 'out'}"]
    predict(compose_cfg("predict", model_alias([*args, "predictor.sync.detect_every_s=1.0"])))
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert abs(result["sync"]["offset_frames"] - lead) <= 1
    predict(compose_cfg("predict", model_alias([*args, "predictor.sync=null"])))
    assert "sync" not in json.loads(capsys.readouterr().out.strip().splitlines()[-1])


@pytest.mark.slow
def test_the_server_answer_carries_the_sync_measure(
    make_predictor, untrained_face_ckpt: Path, talking: tuple[Path, float], tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    from dfdet.serve import ServeSettings, create_app
    from dfdet.serve.upload import FIELD

    path, lead = talking
    predictor = make_predictor(untrained_face_ckpt, sync=SyncMeasure(detect_every_s=1.0))
    app = create_app(predictor, ServeSettings(upload_dir=str(tmp_path / "uploads")))
    with TestClient(app, base_url="http://localhost") as client:
        answer = client.post("/v1/predict", files={FIELD: ("talk.mp4", path.read_bytes(), "video/mp4")})
    assert answer.status_code == 200 and abs(answer.json()["sync"]["offset_frames"] - lead) <= 1
