"""Experiment loggers: wandb offline without an account, TensorBoard, and run provenance."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hydra.utils import instantiate

from dfdet.tasks.train import train
from dfdet.utils.loggers import wandb_configured
from dfdet.utils.runinfo import manifest_fingerprint


def test_wandb_offline_run_creates_its_files(tiny_cfg, tmp_path: Path, monkeypatch) -> None:
    for var in ("WANDB_API_KEY", "WANDB_MODE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc: not configured
    monkeypatch.setenv("WANDB_SILENT", "true")
    assert not wandb_configured()
    train(tiny_cfg("logger=wandb", "trainer.limit_train_batches=2"))
    runs = list((tmp_path / "run" / "wandb").glob("offline-run-*"))
    assert len(runs) == 1
    files = {p.name for p in runs[0].rglob("*")}
    assert any(name.endswith(".wandb") for name in files), files
    assert any(name.endswith(".png") for name in files), files  # the ROC plot and score histogram


def test_tensorboard_and_run_info(tiny_cfg, tmp_path: Path) -> None:
    cfg = tiny_cfg("logger=tensorboard", "trainer.limit_train_batches=2")
    train(cfg)
    assert list((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"))
    info = json.loads((tmp_path / "run" / "run_info.json").read_text())
    assert info["packages"]["torch"] and info["packages"]["lightning"]
    assert "git_commit" in info
    datamodule = instantiate(cfg.data)
    datamodule.setup()
    assert info["data_manifest_sha256"] == manifest_fingerprint(datamodule.manifest)


@pytest.mark.parametrize("var", ["WANDB_API_KEY", "WANDB_MODE"])
def test_wandb_configured_by_environment(monkeypatch, var: str) -> None:
    monkeypatch.setenv(var, "x")
    assert wandb_configured()
