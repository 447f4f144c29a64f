"""End-to-end training through the real Hydra config, and the user-facing errors of train.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from hydra.errors import MissingConfigException

from dfdet.errors import ModelConfigError
from dfdet.tasks.common import run_entry
from dfdet.tasks.train import train


def test_default_training_runs_end_to_end(tiny_cfg, tmp_path: Path) -> None:
    cfg = tiny_cfg("trainer.max_epochs=2", "trainer.limit_train_batches=4")
    metrics = train(cfg)
    run = tmp_path / "run"
    for key in ("test/auc", "test/video_auc", "test/acc", "test/f1", "test/eer", "val/auc", "val/auc_best"):
        assert key in metrics, key
        assert 0.0 <= metrics[key] <= 1.0
    on_disk = json.loads((run / "metrics.json").read_text())
    assert on_disk["test/auc"] == pytest.approx(metrics["test/auc"])
    assert (run / "checkpoints" / "best.ckpt").is_file()
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert "test_efficientnet" in (run / "config_resolved.yaml").read_text()
    assert json.loads((run / "run_info.json").read_text())["packages"]["torch"] is not None
    ckpt = torch.load(run / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=True)
    assert ckpt["dfdet"]["config"]["model"]["net"]["name"] == "test_efficientnet"


def test_unknown_backbone_is_a_clear_error(tiny_cfg) -> None:
    with pytest.raises(ModelConfigError, match="Did you mean"):
        train(tiny_cfg("model.net.name=test_efficientnett"))


def test_missing_dataset_root_exits_cleanly(run_cli) -> None:
    """The one subprocess smoke test of train.py: the script starts, and a user error is one line, exit code 2."""
    proc = run_cli("train.py", "model=xception", "data=ffpp", "data.root=/nonexistent")
    assert proc.returncode == 2, proc.stderr[-3000:]
    assert "/nonexistent" in proc.stderr
    assert "original_sequences" in proc.stderr  # the expected layout is described
    assert "Traceback" not in proc.stderr + proc.stdout


def test_missing_dataset_root_is_one_line_in_process(tiny_cfg, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run_entry(train, tiny_cfg("model=xception", "data=ffpp", "data.root=/nonexistent"))
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
    assert "/nonexistent" in err and "original_sequences" in err  # the expected layout is described


def test_bad_override_names_the_missing_option(tiny_cfg) -> None:
    with pytest.raises(MissingConfigException, match="no_such_model"):
        tiny_cfg("model=no_such_model")


def test_paired_leave_one_out_training(tiny_cfg) -> None:
    """GenD's pairs and DeepfakeBench's leave-one-out protocol through the real configs: trains on reenactments
    drawn with their real frames, tests on the held-out face swaps alone."""
    cfg = tiny_cfg("data.paired=true", "data.leave_out=faceswap", "trainer.limit_train_batches=2")
    metrics = train(cfg)
    assert 0.0 <= metrics["test/auc"] <= 1.0
    assert "test/eer_faceswap" in metrics and "test/eer_reenact" not in metrics
