"""Training through the real Hydra config on a generated ASVspoof-layout tree and on the synthetic audio set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hydra.utils import instantiate

from dfdet.contract import ContractError, InputContract
from dfdet.data import DeepfakeDataModule
from dfdet.data.datamodule import DataConfigError
from dfdet.errors import DatasetNotFoundError
from dfdet.models import read_checkpoint
from dfdet.tasks.train import train
from dfdet.utils.runinfo import manifest_fingerprint


def test_lcnn_trains_on_asvspoof_layout(tiny_cfg, tiny_audio, asvspoof_root: Path, tmp_path: Path) -> None:
    cfg = tiny_cfg("data=asvspoof2019_la", f"data.root={asvspoof_root}", *tiny_audio, "trainer.max_epochs=2")
    metrics = train(cfg)
    for key in ("test/eer", "test/auc", "val/auc_best", "test/eer_A07", "test/eer_A08"):
        assert 0.0 <= metrics[key] <= 1.0, key
    run = tmp_path / "run"
    assert json.loads((run / "metrics.json").read_text())["test/eer"] == pytest.approx(metrics["test/eer"])
    assert "asvspoof2019_la/LA_E_" in (run / "predictions.csv").read_text()
    ckpt = read_checkpoint(run / "checkpoints" / "best.ckpt")
    assert ckpt["dfdet"]["config"]["model"]["input"]["num_samples"] == 8000
    stored = InputContract.from_dict(ckpt["hyper_parameters"]["input"])
    assert stored == InputContract.from_dict(ckpt["dfdet"]["config"]["model"]["input"]) and stored.modality == "audio"


@pytest.mark.parametrize("model", ["rawnet2", "spec_cnn"])
def test_other_audio_models_build_from_config(tiny_cfg, asvspoof_root: Path, model: str) -> None:
    import torch

    cfg = tiny_cfg(
        "data=asvspoof2019_la", f"data.root={asvspoof_root}", f"model={model}", "model.input.num_samples=8000"
    )
    detector = instantiate(cfg.model)
    assert detector.eval()(torch.zeros(2, 8000)).shape == (2,)


def test_audio_folder_config_instantiates(tiny_cfg, tmp_path: Path) -> None:
    dm = instantiate(tiny_cfg("data=audio_folder", f"data.root={tmp_path}", "model=lcnn").data)
    assert isinstance(dm, DeepfakeDataModule) and dm.reader.num_samples == 64000 and dm.modality == "audio"


def test_synthetic_audio_config_trains(tiny_cfg, tiny_audio, tmp_path: Path) -> None:
    cfg = tiny_cfg(
        "data=synthetic_audio",
        "data.source.speakers=[2,1,1]",
        "data.source.utterances_per_speaker=3",
        "data.source.workers=1",
        *tiny_audio,
    )
    metrics = train(cfg)
    assert {"test/eer_codec", "test/eer_flat_vocoder", "test/eer_gl_vocoder"} <= set(metrics)
    info = json.loads((tmp_path / "run" / "run_info.json").read_text())
    assert info["data_manifest_sha256"] == manifest_fingerprint(instantiate(cfg.data).source.manifest())


def test_missing_asvspoof_root_is_one_clear_error(tiny_cfg, tiny_audio) -> None:
    with pytest.raises(DatasetNotFoundError) as err:
        train(tiny_cfg("data=asvspoof2019_la", "data.root=/nonexistent/LA", *tiny_audio))
    assert "/nonexistent/LA" in str(err.value) and "ASVspoof2019_LA_cm_protocols" in str(err.value)


def test_image_model_on_audio_data_is_one_clear_error(tiny_cfg, asvspoof_root: Path) -> None:
    with pytest.raises(ContractError, match="audio data but the model takes face input"):
        train(tiny_cfg("data=asvspoof2019_la", f"data.root={asvspoof_root}", "model=tiny"))


def test_face_synthesis_is_refused_for_audio(tiny_cfg, tiny_audio, asvspoof_root: Path) -> None:
    with pytest.raises(DataConfigError, match="synthesis=none"):
        train(tiny_cfg("data=asvspoof2019_la", f"data.root={asvspoof_root}", *tiny_audio, "synthesis=sbi"))
