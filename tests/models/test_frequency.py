"""Frequency features: the spectrum baseline beats chance through train.py; the fusion net trains."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dfdet.models import load_detector
from dfdet.models.frequency import FrequencyFusionNet, azimuthal_average, log_spectrum
from dfdet.tasks.train import train


def test_azimuthal_average_of_a_radial_pattern() -> None:
    h = w = 32
    ys, xs = np.mgrid[0:h, 0:w]
    radial = torch.tensor(np.hypot(ys - h // 2, xs - w // 2), dtype=torch.float32)[None, None]
    profile = azimuthal_average(radial, bins=8)[0]
    assert profile.shape == (8,) and bool((profile[1:] > profile[:-1]).all())  # increases with the radius
    assert log_spectrum(torch.rand(2, 3, 16, 16)).shape == (2, 1, 16, 16)


def test_spectrum_baseline_beats_chance(tiny_cfg, tmp_path: Path) -> None:
    cfg = tiny_cfg("model=spectrum", "data.source.identities=[24,6,6]", "trainer.max_epochs=5")
    metrics = train(cfg)
    assert metrics["test/auc"] > 0.6, metrics["test/auc"]
    model, _ = load_detector(tmp_path / "run" / "checkpoints" / "best.ckpt")
    assert model.net.coef.abs().sum() > 0  # the fitted classifier is in the checkpoint


def test_frequency_fusion_net_gradients() -> None:
    net = FrequencyFusionNet("test_efficientnet", freq_name="test_efficientnet")
    out = net(torch.randn(2, 3, 64, 64))
    assert out.shape == (2, 1)
    out.sum().backward()
    assert all(p.grad is not None for p in net.parameters() if p.requires_grad)
    assert (
        net.forward_head(net.forward_features(torch.randn(1, 3, 64, 64)), pre_logits=True).shape[1] == net.num_features
    )


@pytest.mark.parametrize("option", ["spectrum", "freq_fusion"])
def test_frequency_presets_instantiate(tiny_cfg, option: str) -> None:
    from hydra.utils import instantiate

    model = instantiate(tiny_cfg(f"model={option}").model)
    assert model.eval()(torch.randn(2, 3, 64, 64)).shape == (2,)
