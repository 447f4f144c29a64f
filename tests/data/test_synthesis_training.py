"""On-the-fly fake synthesis in the training data (synthesis=sbi | blend_pairs)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from dfdet.data.manifest import read_manifest
from dfdet.data.synthesis import FakeSynthesis, SynthesizedFrameDataset
from dfdet.data.synthetic import SyntheticSpec, ensure_synthetic
from dfdet.errors import ManifestError
from dfdet.tasks.train import train


@pytest.fixture(scope="module")
def frames(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    spec = SyntheticSpec(identities=(3, 2, 2), frames_per_video=2, image_size=96)
    manifest = read_manifest(ensure_synthetic(spec, tmp_path_factory.mktemp("synth")))
    return manifest[manifest["split"] == "train"].reset_index(drop=True)


def _identity(image: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(image)


@pytest.mark.parametrize("method", ["sbi", "blend_pairs"])
def test_every_real_frame_gives_a_real_and_a_fake(frames: pd.DataFrame, method: str) -> None:
    torch.manual_seed(0)
    ds = SynthesizedFrameDataset(frames, np.arange(len(frames)), _identity, FakeSynthesis(method))
    n_real = int((frames["label"] == 0).sum())
    assert len(ds) == 2 * n_real
    real, fake = ds[0], ds[1]
    assert real["label"] == 0 and fake["label"] == 1
    changed = (real["image"].int() - fake["image"].int()).abs().sum(-1) > 0
    assert 0.02 < changed.float().mean() < 0.9  # the face region changed, not the whole crop
    torch.manual_seed(0)
    again = SynthesizedFrameDataset(frames, np.arange(len(frames)), _identity, FakeSynthesis(method))
    assert torch.equal(again[1]["image"], fake["image"])  # reproducible for a seed


def test_synthesis_needs_landmarks(frames: pd.DataFrame) -> None:
    with pytest.raises(ManifestError, match="landmarks"):
        SynthesizedFrameDataset(
            frames.drop(columns=["landmarks"]), np.arange(len(frames)), _identity, FakeSynthesis("sbi")
        )


def test_training_with_self_blending(tiny_cfg) -> None:
    metrics = train(tiny_cfg("synthesis=sbi"))
    assert 0 <= metrics["test/auc"] <= 1
