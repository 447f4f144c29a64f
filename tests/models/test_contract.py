"""The input contract: bounds and round trips, checkpoints written before it (upgraded in one place), and
mismatched model and data refused with one line."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import OmegaConf

from dfdet.contract import ContractError, InputContract
from dfdet.data import DeepfakeDataModule
from dfdet.data.readers import AudioWindowReader, ClipReader
from dfdet.errors import CheckpointError
from dfdet.legacy import contract_from_metadata, upgrade_config
from dfdet.models import load_detector, read_checkpoint
from dfdet.predict.models import CheckpointModel
from dfdet.tasks.evaluate import evaluate

CONF = Path(__file__).resolve().parents[2] / "conf"


def test_contract_round_trip_and_layouts() -> None:
    face = InputContract(modality="face", size=96, clip_len=8, clip_stride=4, crop_margin=0.15)
    assert InputContract.from_dict(face.to_dict()) == face
    assert face.input_key == "clip" and face.layout == "NTCHW" and face.preprocessing == "face_crop"
    assert "clips of 8 sampled frames every 4" in face.describe()
    audio = InputContract(modality="audio", num_samples=64000, sample_rate=16000)
    assert audio.to_dict()["mean"] is None and audio.input_key == "audio" and audio.shape(3) == (3, 64000)
    image = InputContract(modality="image", size=224)
    assert image.preprocessing == "whole_image" and image.mean == (0.485, 0.456, 0.406)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"modality": "face", "size": 10**6}, r"size=1000000 is out of range"),
        ({"modality": "face", "size": 96.5}, r"must be an integer"),
        ({"modality": "audio", "num_samples": 64000}, r"needs model.input.num_samples and model.input.sample_rate"),
        ({"modality": "audio", "num_samples": 10**9, "sample_rate": 16000}, r"num_samples=1000000000 is out of"),
        ({"modality": "audio", "num_samples": 8000, "sample_rate": 16000, "size": 96}, r"size does not apply"),
        ({"modality": "video", "size": 96}, r"modality='video' is not one of"),
        ({"modality": "face", "size": 96, "image_size": 96}, r"unknown keys \['image_size'\]"),
        ({"modality": "face", "size": 96, "clip_len": 0}, r"clip_len=0 is out of range"),
        ({"modality": "face", "size": 96, "mean": ["a", "b", "c"]}, r"mean/std must be lists of 3 numbers"),
        ({"modality": "face", "size": 96, "crop_margin": "wide"}, r"crop_margin='wide' must be a number"),
        ({"modality": "audio_visual", "size": 96, "num_samples": 8000, "sample_rate": 16000}, r"needs clip_len"),
    ],
)
def test_bad_contracts_are_one_line(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ContractError, match=message):
        InputContract.from_dict(values)


def test_require_names_both_modalities() -> None:
    with pytest.raises(ContractError, match="the data \\(x\\) is face data but the model takes audio input"):
        InputContract(modality="audio", num_samples=8000, sample_rate=16000).require("face", "the data (x)")


def _legacy(config: dict[str, Any]) -> dict[str, Any]:
    """The config as train.py stored it before the input contract: size and normalisation under model, clip
    length under data, audio classes in dfdet.audio and the audio datamodule of that time."""
    model, data = config["model"], config["data"]
    contract = model.pop("input")
    audio = contract["modality"] == "audio"
    model["image_size"] = contract["num_samples"] if audio else contract["size"]
    model["mean"], model["std"] = ([0.0], [1.0]) if audio else (contract["mean"], contract["std"])
    reader = data.pop("reader")
    data.pop("modality")
    if audio:
        for node in (model["net"], model["net"]["frontend"]):
            node["_target_"] = "dfdet.audio." + node["_target_"].rsplit(".", 1)[-1]
        data["source"]["_target_"] = "dfdet.audio.SyntheticAudioSource"
        data.update(_target_="dfdet.audio.AudioDataModule", num_samples=reader["num_samples"], sample_rate=16000)
        data.pop("eval_transform")
    else:
        data.update(clip_len=reader["clip_len"], clip_stride=reader["clip_stride"])
    return config


def _rewrite_as_legacy(path: Path) -> Path:
    ckpt = torch.load(path, weights_only=True)
    ckpt["dfdet"]["config"] = _legacy(ckpt["dfdet"]["config"])
    torch.save(ckpt, path)
    return path


def test_legacy_clip_checkpoint_loads_with_its_contract(write_checkpoint, tmp_path: Path) -> None:
    path = write_checkpoint(tmp_path / "clip.ckpt", "model=tiny", "model/head=mean", "model.input.clip_len=3")
    expected = load_detector(path)[0].contract
    legacy = _rewrite_as_legacy(path)
    assert "input" not in torch.load(legacy, weights_only=True)["dfdet"]["config"]["model"]
    model, cfg = load_detector(legacy)
    assert model.contract == InputContract(modality="face", size=64, clip_len=3, clip_stride=4)
    assert model.contract == dataclasses.replace(expected, crop_margin=None)  # older runs did not record it
    datamodule = instantiate(cfg.data)
    assert isinstance(datamodule, DeepfakeDataModule) and isinstance(datamodule.reader, ClipReader)
    assert datamodule.reader.clip_len == 3
    info = CheckpointModel(legacy).info
    assert info.clip_len == 3 and info.input_size == 64 and info.modality == "face"


def test_legacy_audio_checkpoint_loads_with_its_contract(untrained_audio_ckpt: Path, tmp_path: Path) -> None:
    path = tmp_path / "old_lcnn.ckpt"
    path.write_bytes(untrained_audio_ckpt.read_bytes())
    _rewrite_as_legacy(path)
    stored = torch.load(path, weights_only=True)["dfdet"]["config"]
    assert stored["model"]["net"]["_target_"] == "dfdet.audio.LCNN"
    model, cfg = load_detector(path)
    assert model.contract == InputContract(modality="audio", num_samples=8000, sample_rate=16000)
    assert cfg.model.net._target_ == "dfdet.models.audio.LCNN"
    datamodule = instantiate(cfg.data)
    assert isinstance(datamodule.reader, AudioWindowReader) and datamodule.reader.num_samples == 8000
    assert model(torch.zeros(2, 8000)).shape == (2,)


@pytest.mark.parametrize(
    ("mangle", "message"),
    [
        (lambda c: c["model"].update(image_size="abc"), "malformed"),
        (lambda c: c["model"].update(mean=5), "malformed"),
        (lambda c: c["data"].update(_target_="dfdet.audio.AudioDataModule", sample_rate="x"), "malformed"),
    ],
)
def test_malformed_legacy_configs_are_one_line(write_checkpoint, tmp_path: Path, mangle, message: str) -> None:
    path = write_checkpoint(tmp_path / "m.ckpt", "model=tiny")
    ckpt = torch.load(path, weights_only=True)
    config = _legacy(ckpt["dfdet"]["config"])
    mangle(config)
    ckpt["dfdet"]["config"] = config
    torch.save(ckpt, path)
    with pytest.raises(CheckpointError, match=message):
        read_checkpoint(path)
    ckpt["dfdet"]["config"] = ["not", "a", "mapping"]
    torch.save(ckpt, path)
    with pytest.raises(CheckpointError, match="not a mapping"):
        read_checkpoint(path)


def test_upgrade_leaves_current_configs_alone(write_checkpoint, tmp_path: Path) -> None:
    config = torch.load(write_checkpoint(tmp_path / "m.ckpt", "model=tiny"), weights_only=True)["dfdet"]["config"]
    assert upgrade_config(config) == config


def test_export_metadata_of_older_exports() -> None:
    old = {"modality": "image", "input_size": 96, "mean": [0.5] * 3, "std": [0.5] * 3, "clip_len": 4}
    assert contract_from_metadata(old) == InputContract(
        modality="face", size=96, mean=(0.5,) * 3, std=(0.5,) * 3, clip_len=4, clip_stride=4
    )
    audio = {"modality": "audio", "input_size": 64000, "sample_rate": 16000, "mean": [0.0], "std": [1.0]}
    assert contract_from_metadata(audio).num_samples == 64000


def test_audio_checkpoint_on_face_data_is_one_line(untrained_audio_ckpt: Path, tmp_path: Path) -> None:
    with initialize_config_dir(str(CONF), version_base="1.3"):
        overrides = [f"ckpt_path={untrained_audio_ckpt}", "data=synthetic", f"paths.output_dir={tmp_path}"]
        cfg = compose("evaluate", overrides=overrides)
    with pytest.raises(ContractError, match="is face data but the model takes audio input"):
        evaluate(cfg)
    assert not list(tmp_path.glob("*.csv"))  # refused before anything ran
    assert OmegaConf.select(cfg, "data.modality") == "face"
