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
    import numpy as np

    from dfdet.predict import PredictError
    from dfdet.testing.media import face_frames, write_video

    voice = (0.2 * np.sin(2 * np.pi * 140 * np.arange(20000) / 16000)).astype(np.float32)
    talk = write_video(tmp_path / "talk.mp4", face_frames(12, size=(192, 144), seed=1), 10, voice)
    sound = make_predictor(untrained_audio_ckpt)
    fused = make_predictor(onnx_path, sound=sound, audio_weight=0.3)
    result = fused.predict(talk).result
    face, audio = make_predictor(onnx_path).predict(talk).result, sound.predict(talk).result
    assert result["fake_probability"] == face["fake_probability"]  # the face result itself is unchanged
    assert result["audio"]["fake_probability"] == pytest.approx(audio["fake_probability"])
    # 0.5-s windows end to end over the decoded 1.25 s (plus the codec's padding), the last one ending at the end
    assert result["audio"]["windows"] == audio["windows"] and len(audio["windows"]) == math.ceil(
        audio["duration_s"] / 0.5
    )
    expected = 0.7 * face["fake_probability"] + 0.3 * audio["fake_probability"]
    assert result["fused"]["fake_probability"] == pytest.approx(expected)
    threshold = 0.7 * fused.info.threshold + 0.3 * sound.info.threshold
    assert result["fused"]["threshold"] == pytest.approx(threshold)
    assert result["fused"]["label"] == ("fake" if expected >= threshold else "real")

    silent = fused.predict(media["video"]).result  # no sound track: the face score alone
    assert silent["audio"]["error"]["code"] == "no_audio_track"
    assert silent["fused"]["fake_probability"] == silent["fake_probability"] and silent["fused"]["audio_weight"] == 0
    assert "fused" not in fused.predict(media["image"]).result
    assert fused.predict(tmp_path / "gone.mp4").result["error"]["code"] == "unreadable"  # never raises
    with pytest.raises(PredictError, match="a face model and an audio model"):
        make_predictor(untrained_audio_ckpt, sound=make_predictor(onnx_path))
    with pytest.raises(PredictError, match="audio_weight"):
        make_predictor(onnx_path, sound=sound, audio_weight=1.5)


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
    assert video["fused"]["audio_weight"] == 0.25 and video["audio"]["model"]["modality"] == "audio"
    assert video["threshold"] == 0.9 and video["audio"]["threshold"] == 0.5  # the audio model keeps its own
    assert audio_file["kind"] == "audio" and audio_file["model"]["modality"] == "audio"  # audio files: audio model
    assert "fused" not in audio_file and "error" not in audio_file
