"""evaluate.py on a trained checkpoint: agreement with training, outputs, overrides and errors."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from dfdet.errors import CheckpointError
from dfdet.tasks.common import run_entry
from dfdet.tasks.evaluate import evaluate


@pytest.fixture
def eval_cfg(trained_task_cfg):
    return lambda *overrides: trained_task_cfg("evaluate", "eval", *overrides)


def test_evaluate_agrees_with_training_test_metrics(trained_run, eval_cfg, tmp_path: Path) -> None:
    _, trained = trained_run
    metrics = evaluate(eval_cfg())
    for key in ("test/auc", "test/acc", "test/f1", "test/eer", "test/video_auc", "test/video_acc", "test/threshold"):
        assert metrics[key] == pytest.approx(trained[key], abs=1e-4), key
    out = tmp_path / "eval"
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["video_aggregation"] == "mean" and saved["threshold"] == pytest.approx(trained["test/threshold"])
    for key in ("test/logloss", "test/ap", "test/precision", "test/recall", "test/acc@0.5", "test/video_eer"):
        assert key in saved, key
    table = pd.read_csv(out / "predictions.csv")
    assert list(table.columns) == ["video", "frame_index", "label", "score"]
    assert table["score"].between(0, 1).all() and set(table["label"]) == {0, 1}
    assert (out / "roc.png").stat().st_size > 1000 and (out / "score_hist.png").stat().st_size > 1000


def test_threshold_and_aggregation_overrides(eval_cfg) -> None:
    metrics = evaluate(eval_cfg("threshold=0.5", "video_aggregation=max", "split=val"))
    assert metrics["val/threshold"] == 0.5
    assert "val/video_auc" in metrics


def test_missing_and_corrupt_checkpoints_are_clear_errors(
    eval_cfg, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    with pytest.raises(CheckpointError, match="not found"):
        evaluate(eval_cfg(f"ckpt_path={tmp_path / 'nope.ckpt'}"))
    corrupt = tmp_path / "corrupt.ckpt"
    corrupt.write_bytes(b"\x00garbage" * 100)
    missing = eval_cfg()
    missing.ckpt_path = "???"  # as composed without ckpt_path=
    for cfg, expected in (
        (eval_cfg(f"ckpt_path={corrupt}"), ("corrupt", str(corrupt))),
        (missing, ("ckpt_path is required",)),
    ):
        with pytest.raises(SystemExit) as exit_info:
            run_entry(evaluate, cfg)
        assert exit_info.value.code == 2, expected
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and "\n" not in err, err
        assert all(part in err for part in expected), err
