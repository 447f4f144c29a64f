"""Bad values of documented keys, and bad resume checkpoints, are one ``error:`` line and exit code 2."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from dfdet.tasks.checks import DOCUMENTED, Rule, check_documented_keys
from dfdet.tasks.common import run_entry
from dfdet.tasks.evaluate import evaluate
from dfdet.tasks.train import train

CONF = Path(__file__).resolve().parents[2] / "conf"


def _one_line_exit_2(task: Callable[[DictConfig], object], cfg: DictConfig, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as info:
        run_entry(task, cfg)
    assert info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), lines
    return lines[0]


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("data.batch_size=-1", "data.batch_size=-1: must be an integer >= 1"),
        ("data.batch_size=abc", "data.batch_size=abc: must be an integer >= 1"),
        ("data.batch_size=2.5", "data.batch_size=2.5: must be an integer >= 1"),
        ("data.num_workers=-2", "data.num_workers=-2: must be an integer >= 0"),
        ("trainer.max_epochs=abc", "trainer.max_epochs=abc: must be an integer >= 1"),
        ("trainer.max_epochs=0", "trainer.max_epochs=0: must be an integer >= 1"),
        ("trainer.max_epochs=true", "trainer.max_epochs=True: must be an integer >= 1"),
        ("trainer.limit_train_batches=1.5", "a fraction must be at most 1.0"),
        ("trainer.accumulate_grad_batches=0", "must be an integer >= 1"),
        ("model.optimizer.lr=fast", "model.optimizer.lr=fast: must be a number >= 0"),
        ("model.threshold=2", "model.threshold=2: must be a number in [0, 1]"),
        ("seed=abc", "seed=abc: must be an integer >= 0"),
    ],
)
def test_bad_training_overrides_are_one_line(
    override: str, expected: str, tiny_cfg: Callable[..., DictConfig], capsys: pytest.CaptureFixture[str]
) -> None:
    assert expected in _one_line_exit_2(train, tiny_cfg(override), capsys)


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("threshold=2", "threshold=2: must be a number in [0, 1]"),
        ("top_k=0", "top_k=0"),
        ("data.batch_size=0", "batch_size"),
    ],
)
def test_bad_evaluation_overrides_are_one_line(
    override: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    overrides = [f"paths.output_dir={tmp_path}", "ckpt_path=any.ckpt", "data=synthetic", override]
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("evaluate", overrides=overrides)
    assert expected in _one_line_exit_2(evaluate, cfg, capsys)


def _truncated(path: Path, write_checkpoint: Callable[..., Path]) -> Path:
    full = write_checkpoint(path.with_suffix(".full"), "model=tiny").read_bytes()
    path.write_bytes(full[: len(full) // 2])
    return path


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing", "Checkpoint not found"),
        ("truncated", "unreadable or corrupt"),
        ("text", "unreadable or corrupt"),
        ("foreign", "not a checkpoint written by dfdet"),
    ],
)
@pytest.mark.parametrize("key", ["ckpt_path", "finetune_from"])
def test_bad_resume_and_finetune_checkpoints_are_one_line(
    key: str,
    case: str,
    expected: str,
    tiny_cfg: Callable[..., DictConfig],
    write_checkpoint: Callable[..., Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = tmp_path / f"{case}.ckpt"
    if case == "truncated":
        _truncated(path, write_checkpoint)
    elif case == "text":
        path.write_text("not a checkpoint\n")
    elif case == "foreign":
        torch.save({"state_dict": {}}, path)
    line = _one_line_exit_2(train, tiny_cfg(f"{key}={path}"), capsys)
    assert expected in line and str(path) in line


@pytest.mark.parametrize("group", ["experiment", "model", "data", "trainer", "debug"])
def test_every_shipped_option_passes_the_checks(group: str) -> None:
    with initialize_config_dir(str(CONF), version_base="1.3"):
        for option in sorted(p.stem for p in (CONF / group).glob("*.yaml")):
            check_documented_keys(compose("train", overrides=[f"{group}={option}"]))


def test_rules_accept_what_the_configs_use() -> None:
    assert DOCUMENTED["trainer.limit_val_batches"].problem(None) is None
    assert DOCUMENTED["trainer.limit_val_batches"].problem(0.25) is None
    assert DOCUMENTED["trainer.limit_val_batches"].problem(3) is None
    assert DOCUMENTED["model.threshold"].problem(0.5) is None and DOCUMENTED["model.threshold"].problem(1) is None
    assert Rule("int", low=1).problem(None) == "must be set"
    assert Rule("number", high=2).problem(3.0) == "must be a number <= 2"
