"""Clip models (T consecutive sampled frames per input), audio models and their fusion with face models, from
checkpoints of untrained networks."""

from __future__ import annotations

import math
from pathlib import Path

import pytest


def test_clip_model_scores_consecutive_frames(
    make_predictor, write_checkpoint, media: dict[str, Path], tmp_path: Path
) -> None:
    ckpt = write_checkpoint(
        tmp_path / "clip.ckpt", "model=tiny", "model/head=mean", "model.input.clip_len=4", "model.input.clip_stride=2"
    )
    predictor = make_predictor(ckpt, explain_frames=2)
    assert predictor.info.clip_len == 4 and predictor.info.clip_stride == 2
    prediction = predictor.predict(media["video"], explain=True)
    result = prediction.result
    assert "error" not in result, result
    n = len(result["frames"])
    assert len(result["clips"]) == len(range(0, n - 4 + 1, 2))
    assert result["fake_probability"] == pytest.approx(sum(c["score"] for c in result["clips"]) / len(result["clips"]))
    assert result["explanation_method"] == "grad-cam" and len(prediction.faces) == 2
    image = predictor.predict(media["image"]).result  # one frame: one clip of the repeated frame
    assert len(image["clips"]) == 1 and image["fake_probability"] == pytest.approx(image["frames"][0]["score"])


def test_audio_model_scores_audio_files(make_predictor, untrained_audio_ckpt: Path, media: dict[str, Path]) -> None:
    predictor = make_predictor(untrained_audio_ckpt)
    assert predictor.info.modality == "audio" and predictor.info.sample_rate == 16000
    result = predictor.predict(media["audio"], explain=True).result
    assert "error" not in result, result
    assert result["kind"] == "audio" and result["duration_s"] == pytest.approx(1.5)
    assert [w["start_s"] for w in result["windows"]] == [0.0, 0.5, 1.0]
    assert 0 <= result["fake_probability"] <= 1 and result["explanation_method"] is None
    assert predictor.predict(media["image"]).result["error"]["code"] == "wrong_modality"
    assert predictor.predict(media["video"]).result["error"]["code"] == "no_audio_track"


def test_audio_model_scores_the_sound_track_of_real_videos(
    make_predictor, untrained_audio_ckpt: Path, shared_data: Path
) -> None:
    result = make_predictor(untrained_audio_ckpt).predict(shared_data / "video" / "WDA_KatieHill_000.mp4").result
    assert result["kind"] == "video" and result["duration_s"] == pytest.approx(8.0, abs=0.1)
    assert len(result["windows"]) == math.ceil(result["duration_s"] / 0.5) and 0 <= result["fake_probability"] <= 1


def test_face_and_audio_models_fuse_on_videos_with_sound(
    make_predictor, onnx_path: Path, untrained_audio_ckpt: Path, media: dict[str, Path], tmp_path: Path
) -> None:
    """The late fusion of face and voice is a suite of the two under the weighted_mean rule."""
    import numpy as np

    from dfdet.predict import PredictError
    from dfdet.predict.suite import ROLES, Member, Suite
    from dfdet.testing.media import face_frames, write_video

    voice = (0.2 * np.sin(2 * np.pi * 140 * np.arange(20000) / 16000)).astype(np.float32)
    talk = write_video(tmp_path / "talk.mp4", face_frames(12, size=(192, 144), seed=1), 10, voice)
    sound, face_model = make_predictor(untrained_audio_ckpt), make_predictor(onnx_path)
    members = [Member("face", ROLES["face"], face_model, 0.7), Member("voice", ROLES["voice"], sound, 0.3)]
    fused = Suite(members, rule="weighted_mean")
    result = fused.predict(talk).result
    face, audio = face_model.predict(talk).result, sound.predict(talk).result
    assert result["models"]["face"]["fake_probability"] == face["fake_probability"]  # each model's own result
    assert result["models"]["voice"]["fake_probability"] == pytest.approx(audio["fake_probability"])
    # 0.5-s windows end to end over the decoded 1.25 s (plus the codec's padding), the last one ending at the end
    assert result["models"]["voice"]["windows"] == audio["windows"]
    assert len(audio["windows"]) == math.ceil(audio["duration_s"] / 0.5)
    expected = 0.7 * face["fake_probability"] + 0.3 * audio["fake_probability"]
    assert result["overall"]["fake_probability"] == pytest.approx(expected)
    threshold = 0.7 * face_model.info.threshold + 0.3 * sound.info.threshold
    assert result["overall"]["threshold"] == pytest.approx(threshold)
    assert result["verdict"] == ("fake" if expected >= threshold else "real")

    silent = fused.predict(media["video"]).result  # no sound track: the face score alone
    assert not silent["models"]["voice"]["routed"] and "no sound track" in silent["models"]["voice"]["reason"]
    assert silent["overall"]["fake_probability"] == silent["models"]["face"]["fake_probability"]
    assert silent["overall"]["weights"] == {"face": 1.0}
    assert not fused.predict(media["image"]).result["models"]["voice"]["routed"]
    assert fused.predict(tmp_path / "gone.mp4").result["error"]["code"] == "unreadable"  # never raises
    with pytest.raises(PredictError, match="needs a model of modality face"):
        Member("face", ROLES["face"], sound)
    with pytest.raises(PredictError, match="weight"):
        Member("voice", ROLES["voice"], sound, -0.5)


def test_predict_task_takes_an_audio_model(
    onnx_path: Path, untrained_audio_ckpt: Path, tmp_path: Path, capsys: pytest.CaptureFixture, compose_cfg
) -> None:
    """predict.py's arguments (``model=`` and ``audio_model=`` aliases) through the task, in-process."""
    import json

    import numpy as np
    import soundfile as sf

    from dfdet.tasks.predict import model_alias, predict
    from dfdet.testing.media import face_frames, write_video

    voice = (0.2 * np.sin(2 * np.pi * 140 * np.arange(16000) / 16000)).astype(np.float32)
    write_video(tmp_path / "talk.mp4", face_frames(8, size=(192, 144), seed=2), 10, voice)
    voice_file = tmp_path / "voice.wav"
    sf.write(voice_file, voice, 16000)
    args = [f"model={onnx_path}", f"audio_model={untrained_audio_ckpt}", "audio_weight=0.25", f"input={tmp_path}"]
    args += ["predictor.threshold=0.9", "recursive=false", f"output_dir={tmp_path / 'out'}"]
    predict(compose_cfg("predict", model_alias(args)))
    done = capsys.readouterr()
    results = {r["file"]: r for r in map(json.loads, done.out.strip().splitlines())}
    video, audio_file = results["talk.mp4"], results["voice.wav"]
    assert video["overall"]["rule"] == "weighted_mean"  # model= and audio_model=: a suite of the two parts
    assert video["overall"]["weights"] == {"model": 0.75, "audio_model": 0.25}
    models = video["models"]
    assert models["model"]["role"] == "face" and models["audio_model"]["model"]["modality"] == "audio"
    assert models["model"]["threshold"] == 0.9 and models["audio_model"]["threshold"] == 0.5  # audio keeps its own
    assert audio_file["kind"] == "audio" and not audio_file["models"]["model"]["routed"]  # audio files: voice only
    assert audio_file["models"]["audio_model"]["fake_probability"] is not None and "error" not in audio_file
