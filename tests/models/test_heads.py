"""Temporal heads: shapes and gradients, clip models end to end through the config."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest
import torch

from dfdet.contract import ContractError, InputContract
from dfdet.data.datasets import clip_starts
from dfdet.models import DeepfakeDetector, build_backbone
from dfdet.models.heads import AttentionHead, MeanHead, RecurrentHead, TemporalConvHead, TransformerHead
from dfdet.tasks.train import train

HEADS = {
    "mean": MeanHead,
    "attention": AttentionHead,
    "lstm": partial(RecurrentHead, kind="lstm"),
    "gru": partial(RecurrentHead, kind="gru", bidirectional=False),
    "transformer": partial(TransformerHead, dim=32, heads=2),
    "tcn": partial(TemporalConvHead, channels=16),
}


@pytest.mark.parametrize("name", sorted(HEADS))
def test_head_shapes_and_gradients(name: str) -> None:
    head = HEADS[name](in_features=24)
    feats = torch.randn(3, 5, 24, requires_grad=True)
    out = head(feats)
    assert out.shape == (3, 1)
    out.sum().backward()
    assert feats.grad is not None and feats.grad.abs().sum() > 0
    assert all(p.grad is not None for p in head.parameters() if p.requires_grad)


@pytest.mark.parametrize("name", ["lstm", "transformer"])
def test_clip_model_forward(name: str) -> None:
    contract = InputContract(modality="face", size=64, clip_len=4)
    model = DeepfakeDetector(build_backbone("test_efficientnet"), torch.optim.SGD, input=contract, head=HEADS[name])
    logits = model.eval()(torch.randn(2, 4, 3, 64, 64))
    assert logits.shape == (2,)


def test_head_and_contract_must_agree() -> None:
    with pytest.raises(ContractError, match="temporal head needs clips"):
        DeepfakeDetector(build_backbone("test_efficientnet"), torch.optim.SGD, head=HEADS["mean"])
    with pytest.raises(ContractError, match="no temporal head"):
        DeepfakeDetector(build_backbone("test_efficientnet"), torch.optim.SGD, input={"size": 64, "clip_len": 4})


def test_clip_starts() -> None:
    assert clip_starts(32, 8, 4) == [0, 4, 8, 12, 16, 20, 24]
    assert clip_starts(5, 8, 4) == [0]  # short videos give one padded clip


@pytest.mark.parametrize("head", ["gru", "attention"])
def test_clip_training_through_config(
    tiny_cfg, tiny_synthetic, compose_cfg, data_dir: Path, tmp_path: Path, head: str
) -> None:
    metrics = train(tiny_cfg(f"model/head={head}", "model.input.clip_len=3", "model.input.clip_stride=1"))
    assert 0 <= metrics["test/video_auc"] <= 1
    import pandas as pd

    table = pd.read_csv(tmp_path / "run" / "predictions.csv")
    assert set(table["frame_index"]) == {0, 1}  # clip starts of 4-frame videos with T=3, stride 1

    # evaluate.py with data= (a dataset config without clip settings) reads clips of the checkpoint's length
    from dfdet.tasks.evaluate import evaluate

    ckpt = tmp_path / "run" / "checkpoints" / "best.ckpt"
    overrides = [f"ckpt_path={ckpt}", "data=synthetic", *tiny_synthetic, f"paths.data_dir={data_dir}"]
    again = evaluate(compose_cfg("evaluate", [*overrides, f"paths.output_dir={tmp_path / 'eval'}", "trainer=cpu"]))
    assert again["test/video_auc"] == pytest.approx(metrics["test/video_auc"], abs=1e-6)
