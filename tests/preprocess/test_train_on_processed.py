"""Train through the real config on a preprocessed folder release; class-balanced sampling."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate

from dfdet.contract import ContractError
from dfdet.models import load_detector
from dfdet.tasks.preprocess import preprocess
from dfdet.tasks.train import train


def test_train_a_few_steps_on_the_processed_folder(
    folder_tree: Path, preprocess_cfg: Callable, tiny_cfg: Callable, tmp_path: Path
) -> None:
    preprocess(preprocess_cfg("data=folder", f"data.root={folder_tree}"))
    cfg = tiny_cfg(
        "data=folder",
        f"data.root={folder_tree}",
        f"paths.data_dir={tmp_path / 'data'}",  # where preprocess_cfg wrote processed/folder
        "data.batch_size=8",
        "trainer.limit_train_batches=2",
    )
    metrics = train(cfg)
    assert "test/auc" in metrics and "val/auc_best" in metrics
    ckpt = tmp_path / "run" / "checkpoints" / "best.ckpt"
    model, stored = load_detector(ckpt)
    # the margin the crops were made with (preprocess_cfg's face pipeline) is now the model's: prediction uses it
    assert model.contract.crop_margin == pytest.approx(0.15) == stored.model.input.crop_margin
    with pytest.raises(ContractError, match="cropped with margin 0.15"):
        train(tiny_cfg(*cfg_overrides(folder_tree, tmp_path), "model.input.crop_margin=0.3"))


def cfg_overrides(folder_tree: Path, tmp_path: Path) -> list[str]:
    return ["data=folder", f"data.root={folder_tree}", f"paths.data_dir={tmp_path / 'data'}"]


def test_balanced_sampler_evens_out_the_classes(
    folder_tree: Path, preprocess_cfg: Callable, tiny_cfg: Callable, tmp_path: Path
) -> None:
    preprocess(preprocess_cfg("data=folder", f"data.root={folder_tree}"))
    cfg = tiny_cfg(
        "data=folder", f"data.root={folder_tree}", f"paths.data_dir={tmp_path / 'data'}", "data.balance=true"
    )
    datamodule = instantiate(cfg.data)
    datamodule.setup()
    labels = datamodule.datasets["train"].labels.long()
    sampler = datamodule.train_dataloader().sampler
    weights = sampler.weights
    assert len(sampler) == len(labels)
    mass = torch.stack([weights[labels == c].sum() for c in (0, 1)])
    assert torch.allclose(mass / mass.sum(), torch.tensor([0.5, 0.5], dtype=mass.dtype))
