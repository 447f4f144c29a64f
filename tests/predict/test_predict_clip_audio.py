"""Clip models (T consecutive sampled frames per input) and audio models, from checkpoints of untrained networks."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import OmegaConf

CONF = Path(__file__).resolve().parents[2] / "conf"


def write_checkpoint(path: Path, *overrides: str) -> Path:
    """A checkpoint in train.py's layout (state_dict and the resolved config) of an untrained model."""
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=[f"paths.output_dir={path.parent}", "trainer.max_epochs=1", *overrides])
    model = instantiate(cfg.model)
    config = OmegaConf.to_container(cfg, resolve=True)
    torch.save({"state_dict": model.state_dict(), "dfdet": {"version": "test", "config": config}}, path)
    return path


def test_clip_model_scores_consecutive_frames(make_predictor, media: dict[str, Path], tmp_path: Path) -> None:
    ckpt = write_checkpoint(
        tmp_path / "clip.ckpt", "model=tiny", "model/head=mean", "data.clip_len=4", "data.clip_stride=2"
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


@pytest.fixture(scope="module")
def audio_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("audio_model")
    return write_checkpoint(
        folder / "lcnn.ckpt",
        "data=synthetic_audio", "model=lcnn", "model.image_size=8000", "model.net.channels=[4,4,4,4,4]",
        "model.net.embedding=8",
    )  # fmt: skip


def test_audio_model_scores_audio_files(make_predictor, audio_ckpt: Path, media: dict[str, Path]) -> None:
    predictor = make_predictor(audio_ckpt)
    assert predictor.info.modality == "audio" and predictor.info.sample_rate == 16000
    result = predictor.predict(media["audio"], explain=True).result
    assert "error" not in result, result
    assert result["kind"] == "audio" and result["duration_s"] == pytest.approx(1.5)
    assert [w["start_s"] for w in result["windows"]] == [0.0, 0.5, 1.0]
    assert 0 <= result["fake_probability"] <= 1 and result["explanation_method"] is None
    assert predictor.predict(media["image"]).result["error"]["code"] == "wrong_modality"
    assert predictor.predict(media["video"]).result["error"]["code"] == "no_audio_track"


def test_audio_model_scores_the_sound_track_of_real_videos(make_predictor, audio_ckpt: Path, shared_data: Path) -> None:
    result = make_predictor(audio_ckpt).predict(shared_data / "video" / "WDA_KatieHill_000.mp4").result
    assert result["kind"] == "video" and result["duration_s"] == pytest.approx(8.0, abs=0.1)
    assert len(result["windows"]) == 16 and 0 <= result["fake_probability"] <= 1
