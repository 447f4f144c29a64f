"""Experiments at scale on CPU: DDP with 2 processes, multirun and Optuna sweeps, resume, fine-tune, determinism."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import torch

from dfdet.errors import CheckpointError
from dfdet.tasks.evaluate import evaluate
from dfdet.tasks.train import train

CLI_TINY = [
    "model=tiny",
    "data.source.identities=[4,2,2]",
    "data.source.frames_per_video=4",
    "data.source.image_size=64",
    "trainer.max_epochs=1",
    "trainer.enable_progress_bar=false",
    "trainer.accelerator=cpu",
]


@pytest.mark.slow  # two training processes started by a subprocess
def test_ddp_on_two_cpu_processes_matches_single_process(run_cli, tmp_path: Path, data_dir: Path, compose_cfg) -> None:
    compose_config = compose_cfg
    run = tmp_path / "ddp"
    proc = run_cli(
        "train.py",
        "trainer=ddp",
        "trainer.devices=2",
        *CLI_TINY,
        f"paths.data_dir={data_dir}",
        f"hydra.run.dir={run}",
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not list(tmp_path.glob("outputs")), "DDP processes must share one run folder"
    ddp = json.loads((run / "metrics.json").read_text())
    rows = pd.read_csv(run / "predictions.csv")
    assert not rows.duplicated(["video", "frame_index"]).any()
    assert len(rows) == 2 * 2 * 2 * 4  # test identities x videos x (real, fake) x frames: every frame once
    single = evaluate(
        compose_config(
            "evaluate",
            [
                f"ckpt_path={run / 'checkpoints' / 'best.ckpt'}",
                f"paths.data_dir={data_dir}",
                f"paths.output_dir={tmp_path / 'single'}",
                "trainer.accelerator=cpu",
                "trainer.enable_progress_bar=false",
            ],
        )
    )
    for key in ("test/auc", "test/acc", "test/f1", "test/eer", "test/video_auc", "test/video_acc", "test/threshold"):
        assert single[key] == pytest.approx(ddp[key], abs=1e-5), key


@pytest.mark.slow  # a Hydra sweep in a subprocess
def test_multirun_writes_a_summary(run_cli, tmp_path: Path, data_dir: Path) -> None:
    sweep = tmp_path / "multirun"
    proc = run_cli(
        "train.py", "-m", *CLI_TINY, "seed=1,2", f"paths.data_dir={data_dir}", f"hydra.sweep.dir={sweep}", timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = pd.read_csv(sweep / "sweep_summary.csv")
    assert len(summary) == 2 and (summary["status"] == "ok").all()
    assert summary["overrides"].str.contains("seed=1").sum() == 1
    assert summary["test/auc"].between(0, 1).all()


@pytest.mark.slow  # a Hydra sweep in a subprocess
def test_optuna_sweep_two_trials(run_cli, tmp_path: Path, data_dir: Path) -> None:
    sweep = tmp_path / "optuna"
    proc = run_cli(
        "train.py",
        "hparams_search=optuna",
        "hydra.sweeper.n_trials=2",
        *CLI_TINY,
        f"paths.data_dir={data_dir}",
        f"hydra.sweep.dir={sweep}",
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    trials = pd.read_csv(sweep / "optuna_trials.csv")
    assert len(trials) == 2 and (trials["state"] == "COMPLETE").all()
    assert "best_params" in (sweep / "optimization_results.yaml").read_text()
    assert len(pd.read_csv(sweep / "sweep_summary.csv")) == 2


def test_resume_continues_from_the_checkpoint_step(tiny_cfg, tmp_path: Path) -> None:
    first = tmp_path / "run"
    train(tiny_cfg("trainer.max_epochs=1", "test=false"))
    last = first / "checkpoints" / "last.ckpt"
    step_before = torch.load(last, weights_only=True)["global_step"]
    assert step_before > 0
    resumed = tiny_cfg(
        "trainer.max_epochs=2", "test=false", f"ckpt_path={last}", f"paths.output_dir={tmp_path / 'resumed'}"
    )
    train(resumed)
    after = torch.load(tmp_path / "resumed" / "checkpoints" / "last.ckpt", weights_only=True)
    assert after["epoch"] == 1 and after["global_step"] == 2 * step_before
    info = json.loads((tmp_path / "resumed" / "run_info.json").read_text())
    assert info["resumed_from"] == str(last)


def test_finetune_with_frozen_backbone(trained_run, tiny_cfg, tmp_path: Path) -> None:
    source_run, _ = trained_run
    source = source_run / "checkpoints" / "best.ckpt"
    train(tiny_cfg(f"finetune_from={source}", "freeze_backbone=true", "data.source.seed=7", "test=false"))
    before = torch.load(source, weights_only=True)["state_dict"]
    after = torch.load(tmp_path / "run" / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    changed = {k for k in before if k.startswith("net.") and not torch.equal(before[k], after[k])}
    assert changed and all(k.startswith("net.classifier") for k in changed), changed
    info = json.loads((tmp_path / "run" / "run_info.json").read_text())
    assert info["finetuned_from"] == str(source) and info["data_manifest_sha256"]


def test_finetune_from_a_mismatching_model_is_a_clear_error(trained_run, tiny_cfg) -> None:
    source = trained_run[0] / "checkpoints" / "best.ckpt"
    with pytest.raises(CheckpointError, match="does not match"):
        train(tiny_cfg(f"finetune_from={source}", "model.net.name=test_resnet"))


def test_same_seed_gives_identical_metrics(tiny_cfg, tmp_path: Path) -> None:
    runs = [train(tiny_cfg("trainer.limit_train_batches=3", f"paths.output_dir={tmp_path / str(i)}")) for i in (0, 1)]
    keys = [k for k in runs[0] if not k.startswith("time/")]
    assert {k: runs[0][k] for k in keys} == {k: runs[1][k] for k in keys}
