"""NPR (Tan et al., CVPR 2024): the residual equals the reference's interpolate-based one, the network trains and
exports through the real config."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from hydra.utils import instantiate

from dfdet.models.npr import NPRNet, npr_residual


def test_residual_matches_the_reference_interpolation() -> None:
    x = torch.randn(2, 3, 32, 48)
    down = F.interpolate(x, scale_factor=0.5, mode="nearest", recompute_scale_factor=True)
    reference = x - F.interpolate(down, scale_factor=2.0, mode="nearest", recompute_scale_factor=True)
    torch.testing.assert_close(npr_residual(x), reference)
    smooth = torch.ones(1, 3, 8, 8)
    assert npr_residual(smooth).abs().max() == 0  # no up-sampling trace in a flat image
    assert npr_residual(torch.randn(1, 3, 9, 7)).shape == (1, 3, 8, 6)  # odd sides are cropped to even


def test_npr_shapes_and_config(tiny_cfg) -> None:
    net = NPRNet(width=8).eval()
    assert net(torch.randn(2, 3, 64, 64)).shape == (2, 1) and net.num_features == 64
    cfg = tiny_cfg("model=npr", "model.net.width=8", "model.input.size=32")
    model = instantiate(cfg.model)
    assert model.contract.modality == "image" and model.contract.resize is None
    assert model.eval()(torch.randn(3, 3, 32, 32)).shape == (3,)
