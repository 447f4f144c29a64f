"""Detector suites: each kind of file reaches exactly the models that apply to it; the answer lists each model's
calibrated result and one overall verdict with its reason; suite configs build through predict.py's config."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dfdet.predict import PredictError, Predictor, load_model
from dfdet.predict.suite import ROLES, SYNC_SCORERS, FunctionScorer, Member, Suite, register_sync_scorer
from dfdet.tasks.predict import build_predictor, model_alias, predict


class Spy:
    """A scorer that records the files sent to it and answers with the wrapped one."""

    def __init__(self, scorer: Any) -> None:
        self.scorer, self.info, self.seen = scorer, scorer.info, []

    def predict(self, path: str | os.PathLike, name: str | None = None, explain: bool = False) -> Any:
        self.seen.append(Path(path).name)
        return self.scorer.predict(path, name=name, explain=explain)


@pytest.fixture
def sync_scorer() -> Iterator[str]:
    """A sync scorer registered under a test name: the audio-visual hook's interface (the real measure is issue
    15's); it answers from the file's sound alone, so that its score depends on the file."""
    from dfdet.data.audio.io import extract_audio_track

    @register_sync_scorer("test_sync")
    def score(path: Path) -> dict[str, Any]:
        energy = float(np.abs(extract_audio_track(path, 16000)).mean())
        segments = [{"start_s": 0.2, "end_s": 0.6, "score": 0.8}]
        return {"fake_probability": min(1.0, energy), "threshold": 0.5, "offset_frames": 2, "confidence": 0.7,
                "segments": segments}  # fmt: skip

    yield "test_sync"
    SYNC_SCORERS.pop("test_sync")


@pytest.fixture(scope="module")
def talk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A video of a face with a sound track (1.25 s)."""
    from dfdet.testing.media import face_frames, write_video

    voice = (0.2 * np.sin(2 * np.pi * 140 * np.arange(20000) / 16000)).astype(np.float32)
    return write_video(tmp_path_factory.mktemp("talk") / "talk.mp4", face_frames(8, size=(192, 144), seed=1), 10, voice)


@pytest.fixture
def spies(
    untrained_face_ckpt: Path, image_onnx: Path, onnx_audio_path: Path, faces: object, sync_scorer: str
) -> dict[str, Spy]:
    def make(path: Path) -> Spy:
        return Spy(Predictor(load_model(path), faces))  # type: ignore[arg-type]

    return {"face": make(untrained_face_ckpt), "image": make(image_onnx), "voice": make(onnx_audio_path),
            "sync": Spy(FunctionScorer(sync_scorer))}  # fmt: skip


ROUTES = {  # media -> the models it must reach
    "image": {"face", "image"},
    "noface": {"face", "image"},
    "video": {"face", "image"},  # no sound track: neither voice nor sync
    "talk": {"face", "image", "voice", "sync"},
    "audio": {"voice"},
}


def test_each_kind_of_file_reaches_exactly_the_models_that_apply(
    spies: dict[str, Spy], media: dict[str, Path], talk: Path
) -> None:
    roles = {"face": "face", "image": "image", "voice": "voice", "sync": "av_sync"}
    suite = Suite([Member(name, ROLES[roles[name]], spy) for name, spy in spies.items()])  # type: ignore[arg-type]
    files, results = {**media, "talk": talk}, {}
    for kind, expected in ROUTES.items():
        for spy in spies.values():
            spy.seen.clear()
        result = results[kind] = suite.predict(files[kind]).result
        reached = {name for name, spy in spies.items() if spy.seen}
        assert reached == expected, kind
        assert {n for n, m in result["models"].items() if m["routed"]} == expected
        for name in set(spies) - expected:  # what could not be checked, and why
            assert result["models"][name]["verdict"] == "not_applicable" and result["models"][name]["reason"]
        assert result["verdict"] in ("fake", "uncertain", "real") and "error" not in result, kind
        assert result["overall"]["rule"] == "strongest"

    noface = results["noface"]
    assert noface["models"]["face"]["verdict"] == "not_applicable" and "no face" in noface["models"]["face"]["reason"]
    assert noface["models"]["image"]["verdict"] in ("fake", "uncertain", "real")  # answers normally
    silent = results["video"]
    assert "voice model: not applicable (no speech found: the video has no sound track)" in silent["reason"]
    face = silent["models"]["face"]
    over = sum(f["score"] >= face["threshold"] for f in face["frames"])
    assert f"face model: {face['verdict']} {face['fake_probability']:.2f} on {over} of 8 frames" in silent["reason"]
    both = results["talk"]
    assert both["has_sound"] and both["models"]["sync"]["segments"][0]["end_s"] == 0.6  # the AV hook's timeline
    assert both["models"]["voice"]["windows"] and "file" not in both["models"]["voice"]  # file fields once


def test_a_suite_narrows_a_role_and_refuses_bad_entries(spies: dict[str, Spy], media: dict[str, Path]) -> None:
    still = Suite([Member("image", ROLES["image"], spies["image"], media=("image",))])  # type: ignore[arg-type]
    assert not still.predict(media["video"]).result["models"]["image"]["routed"]
    assert still.predict(media["video"]).result["verdict"] == "not_applicable"
    assert still.predict(media["text"]).result["error"]["code"] == "unsupported_type"
    assert still.predict(media["bomb"]).result["error"]["code"] == "image_too_large"  # before any model runs
    with pytest.raises(PredictError, match="not one of"):
        Suite([Member("image", ROLES["image"], spies["image"])], rule="majority")  # type: ignore[arg-type]
    with pytest.raises(PredictError, match="media"):
        Member("image", ROLES["image"], spies["image"], media=("photo",))  # type: ignore[arg-type]
    with pytest.raises(PredictError, match="no audio-visual sync scorer named 'no_such_sync'.*lip_sync"):
        FunctionScorer("no_such_sync")


def test_a_failing_model_does_not_stop_the_others(spies: dict[str, Spy], talk: Path) -> None:
    @register_sync_scorer("broken_sync")
    def broken(path: Path) -> dict[str, Any]:
        raise RuntimeError("a bug")

    try:
        suite = Suite([Member("image", ROLES["image"], spies["image"]),  # type: ignore[arg-type]
                       Member("sync", ROLES["av_sync"], FunctionScorer("broken_sync"))])  # fmt: skip
        result = suite.predict(talk).result
    finally:
        SYNC_SCORERS.pop("broken_sync")
    assert result["models"]["sync"]["error"]["code"] == "internal_error" and "error" not in result
    assert result["verdict"] == result["models"]["image"]["verdict"]
    assert "audio-visual model: not scored (internal_error" in result["reason"]


def test_suite_configs_build_through_predict_config(
    untrained_face_ckpt: Path, image_onnx: Path, onnx_audio_path: Path, compose_cfg: Callable, tmp_path: Path,
    sync_scorer: str, media: dict[str, Path], capsys: pytest.CaptureFixture,
) -> None:  # fmt: skip
    paths = [f"model={untrained_face_ckpt}", f"image_model={image_onnx}", f"audio_model={onnx_audio_path}"]
    base = [*model_alias(paths), f"output_dir={tmp_path / 'out'}", "predictor.faces.frames_per_video=4"]
    suite = build_predictor(compose_cfg("predict", [*base, "suite=face_image_voice", "input=x"]))
    assert isinstance(suite, Suite) and suite.rule == "strongest"
    assert [(m.name, m.role.name) for m in suite.members] == [("face", "face"), ("image", "image"), ("voice", "voice")]
    assert suite.credentials is not None  # predictor.credentials of conf/predict.yaml
    lip = build_predictor(compose_cfg("predict", [*base, "suite=full", "input=x"]))  # the training-free measure
    assert isinstance(lip, Suite) and lip.members[3].scorer.info.name == "lip_sync"  # type: ignore[attr-defined]
    full = build_predictor(compose_cfg("predict", [*base, "suite=full", f"suite.models.sync.scorer={sync_scorer}"]
                                       + ["input=x"]))  # fmt: skip
    assert isinstance(full, Suite) and full.rule == "weighted_vote" and full.members[3].role.name == "av_sync"

    predict(compose_cfg("predict", [*base, "suite=face_image_voice", f"input={media['image']}", "explain=true"]))
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(result["models"]) == {"face", "image", "voice"} and result["content_credentials"]["c2pa"] == {
        "present": False
    }
    written = result["models"]["face"]["explanations"]  # the face model's heatmaps, written beside the JSON
    assert written and all(Path(e["overlay_png"]).is_file() for e in written)


@pytest.mark.slow
def test_a_suite_on_real_media(spies: dict[str, Spy], shared_data: Path, tmp_path: Path) -> None:
    """Real photos (one C2PA-signed here), a real talking-head video with sound, real speech, a face-less photo."""
    from PIL import Image

    from dfdet.predict.credentials import ContentCredentials
    from dfdet.testing.credentials import make_chain, sign

    photo = shared_data / "faces" / "face_recognition" / "obama-480p.jpg"
    signed = tmp_path / "signed.jpg"
    signed.write_bytes(sign(photo.read_bytes(), "image/jpeg", make_chain()))
    landscape = tmp_path / "sky.jpg"  # the top rows of the photo: no face
    with Image.open(photo) as img:
        img.crop((0, 0, img.width, 60)).save(landscape)
    members = [Member(n, ROLES[n], spies[n]) for n in ("face", "image", "voice")]  # type: ignore[arg-type]
    suite = Suite(members, credentials=ContentCredentials())
    files = {
        "signed": (signed, {"face", "image"}),
        "landscape": (landscape, {"image"}),  # the face model runs and answers not applicable
        "video": (shared_data / "video" / "WDA_KatieHill_000.mp4", {"face", "image", "voice"}),
        "speech": (shared_data / "audio" / "RD_Radio31_000.wav", {"voice"}),
    }
    for name, (path, scored) in files.items():
        result = suite.predict(path).result
        answered = {n for n, m in result["models"].items() if m["verdict"] in ("fake", "uncertain", "real")}
        assert answered == scored, (name, result["reason"])
    assert result["content_credentials"]["c2pa"] == {"present": False}
    first = suite.predict(signed).result["content_credentials"]["c2pa"]
    assert first["validation_state"] == "Valid" and first["generative"]


def test_a_model_answer_in_words() -> None:
    from dfdet.predict.suite import model_summary

    windows = [{"score": 0.9}, {"score": None}, {"score": 0.2}, {"score": 0.7}]  # None: a window without speech
    voice = {"verdict": "fake", "fake_probability": 0.6, "threshold": 0.5, "windows": windows}
    assert model_summary(ROLES["voice"], voice) == "voice model: fake 0.60 on 2 of 3 windows (1 without speech)"
    frames = {"verdict": "real", "fake_probability": 0.12, "threshold": 0.5, "frames": [{"score": 0.12}]}
    assert model_summary(ROLES["image"], frames) == "image model: real 0.12"
    error = {"verdict": None, "fake_probability": None, "error": {"code": "unreadable", "message": "cut"}}
    assert model_summary(ROLES["face"], error) == "face model: not scored (unreadable: cut)"


def test_the_lip_sync_scorer_answers_evidence_without_a_verdict(tmp_path: Path) -> None:
    """The registered training-free measure: a file it cannot decode is reported as unreadable (not an internal
    error), and a video without sound is not applicable."""
    from dfdet.testing.media import face_frames, write_corrupt, write_video

    scorer = FunctionScorer("lip_sync")
    broken = scorer.predict(write_corrupt(tmp_path / "broken.mp4")).result
    assert broken["error"]["code"] == "unreadable" and broken["verdict"] is None
    silent = scorer.predict(write_video(tmp_path / "silent.mp4", face_frames(6), fps=10)).result
    assert silent["error"]["code"] == "no_audio_track" and silent["verdict"] == "not_applicable"
