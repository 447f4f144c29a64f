"""A checkpoint whose stored config names code (file writes, pickle loads, process calls) is refused by every loader.

Payloads are first shown to be live (instantiating one creates the marker file); then predict, evaluate, export and
serve, and resume and fine-tune in train, load a checkpoint carrying it: one ``error:`` line, exit code 2, no marker.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from dfdet.tasks.common import run_entry
from dfdet.tasks.evaluate import evaluate
from dfdet.tasks.export import export
from dfdet.tasks.predict import predict
from dfdet.tasks.serve import serve
from dfdet.tasks.train import train

CONF = Path(__file__).resolve().parents[2] / "conf"


class _Touch:
    """Pickles as a call to ``os.system("touch <marker>")``: loading the pickle runs it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return os.system, (f"touch {self.marker}",)


def _payload(kind: str, marker: Path) -> dict[str, Any]:
    """A config that creates ``marker`` when instantiated."""
    if kind == "file write":
        path = {"_target_": "pathlib.Path", "_args_": [str(marker)]}
        return {"_target_": "pathlib.Path.write_text", "_args_": [path, "pwned"]}
    if kind == "pickle load":
        dropped = marker.with_suffix(".pkl")
        dropped.write_bytes(pickle.dumps(_Touch(marker)))
        return {"_target_": "pandas.read_pickle", "_args_": [str(dropped)]}
    if kind == "process call":
        return {"_target_": "subprocess.run", "_args_": [["touch", str(marker)]]}
    raise ValueError(kind)


PAYLOADS = ("file write", "pickle load", "process call")
LIVE = ("file write", "pickle load")  # Hydra >= 1.3.8 itself blocklists subprocess targets; these two it runs
WHERE = {"net": ("model", "net"), "data": ("data", "source"), "optimizer": ("model", "optimizer")}


def _compose(name: str, overrides: list[str]) -> DictConfig:
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose(name, overrides=overrides)


@pytest.fixture
def hostile_ckpt(write_checkpoint: Callable[..., Path], tmp_path: Path) -> Callable[[str, str], tuple[Path, Path]]:
    """``make(payload, where)``: a tiny model's checkpoint whose stored config carries a payload; (ckpt, marker)."""

    def make(kind: str, where: str) -> tuple[Path, Path]:
        ckpt = write_checkpoint(tmp_path / "evil.ckpt", "model=tiny")
        marker = tmp_path / "marker"
        payload = _payload(kind, marker)
        if kind in LIVE:  # the payload is live: unchecked, loading would have run it
            instantiate(OmegaConf.create(payload))
            assert marker.exists()
            marker.unlink()
        state = torch.load(ckpt, weights_only=True)
        group, key = WHERE[where]
        state["dfdet"]["config"][group][key] = payload
        torch.save(state, ckpt)
        return ckpt, marker

    return make


def _entry(name: str, ckpt: Path, tmp_path: Path) -> tuple[Callable[[DictConfig], Any], DictConfig]:
    """The task and its composed config, loading ``ckpt``."""
    out = [f"paths.output_dir={tmp_path / 'out'}"]
    if name == "predict":
        image = tmp_path / "x.jpg"
        image.write_bytes(b"\xff\xd8\xff")
        return predict, _compose("predict", [*out, f"model_path={ckpt}", f"input={image}"])
    if name == "serve":
        return serve, _compose("serve", [*out, f"model_path={ckpt}"])
    if name == "export":
        return export, _compose("export", [*out, f"ckpt_path={ckpt}", f"output_dir={tmp_path / 'exported'}"])
    if name == "evaluate":
        return evaluate, _compose("evaluate", [*out, f"ckpt_path={ckpt}"])
    raise ValueError(name)


def _refused(task: Callable[[DictConfig], Any], cfg: DictConfig, capsys: pytest.CaptureFixture[str]) -> str:
    """Runs ``task`` as the entry points do; asserts exit code 2 and returns the one error line."""
    with pytest.raises(SystemExit) as info:
        run_entry(task, cfg)
    assert info.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize("entry", ["predict", "evaluate", "export", "serve"])
@pytest.mark.parametrize("kind", PAYLOADS)
def test_deployment_entry_points_refuse_hostile_checkpoints(
    entry: str, kind: str, hostile_ckpt: Callable, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ckpt, marker = hostile_ckpt(kind, "net")
    task, cfg = _entry(entry, ckpt, tmp_path)
    line = _refused(task, cfg, capsys)
    target = _payload(kind, tmp_path / "unused")["_target_"]
    assert line.startswith("error: Refusing") and target in line and "model.net._target_" in line
    assert not marker.exists()


@pytest.mark.parametrize("where", ["data", "optimizer"])
def test_evaluate_refuses_a_hostile_stored_data_or_optimizer_config(
    where: str, hostile_ckpt: Callable, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ckpt, marker = hostile_ckpt("process call", where)
    line = _refused(evaluate, _entry("evaluate", ckpt, tmp_path)[1], capsys)
    assert "subprocess.run" in line and not marker.exists()


@pytest.mark.parametrize("key", ["ckpt_path", "finetune_from"])
def test_resume_and_finetune_refuse_hostile_checkpoints(
    key: str, hostile_ckpt: Callable, tiny_cfg: Callable[..., DictConfig], capsys: pytest.CaptureFixture[str]
) -> None:
    ckpt, marker = hostile_ckpt("file write", "net")
    line = _refused(train, tiny_cfg(f"{key}={ckpt}"), capsys)
    assert "pathlib.Path.write_text" in line and not marker.exists()
