"""Calibration through the tasks: train fits and stores it, evaluate reports ECE, intervals and the size flag."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from dfdet.models import load_detector
from dfdet.tasks.evaluate import evaluate


def test_training_calibrates_the_best_checkpoint(trained_run) -> None:
    run, metrics = trained_run
    model, _ = load_detector(run / "checkpoints" / "best.ckpt")
    temperature = float(model.temperature)
    assert temperature == pytest.approx(metrics["calibration/temperature"])
    assert float(model.threshold) == pytest.approx(metrics["test/threshold"], abs=1e-6)
    assert float(model.threshold) == pytest.approx(metrics["calibration/threshold"], abs=1e-6)
    band = model.band()
    assert band is not None and band[0] <= float(model.threshold) <= band[1]
    assert metrics["calibration/val_logloss_after"] <= metrics["calibration/val_logloss_before"] + 1e-9
    saved = json.loads((run / "metrics.json").read_text())
    for key in ("test/ece", "test/video_ece", "test/video_auc_ci_low", "test/small_test_set"):
        assert key in saved, key
    assert (run / "reliability.png").stat().st_size > 1000


def test_checkpoint_without_calibration_buffers_still_loads(trained_run, tmp_path: Path) -> None:
    run, _ = trained_run
    ckpt = torch.load(run / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=True)
    for name in ("temperature", "uncertain_band"):
        del ckpt["state_dict"][name]
    old = tmp_path / "old.ckpt"
    torch.save(ckpt, old)
    model, _ = load_detector(old)
    assert float(model.temperature) == 1.0 and model.band() is None


def test_evaluate_reports_ece_intervals_and_small_sets(
    trained_task_cfg, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cfg = trained_task_cfg("evaluate", "eval")
    metrics = evaluate(cfg)
    saved = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert 0 <= saved["test/ece"] <= 1 and 0 <= saved["test/video_ece"] <= 1
    for name in ("auc", "eer", "acc"):
        low, high = saved[f"test/video_{name}_ci"]
        point = metrics[f"test/video_{name}"]
        assert math.isnan(point) or low - 1e-9 <= point <= high + 1e-9, name
        assert metrics[f"test/video_{name}_ci_low"] == low
    assert saved["test/ci_resampled"] == "videos"
    assert saved["temperature"] > 0
    # The tiny synthetic test set has a handful of videos: flagged in the output and in the log.
    assert saved["test/small_test_set"] is True
    assert "Small test set" in caplog.text
    assert (tmp_path / "eval" / "reliability.png").stat().st_size > 1000
