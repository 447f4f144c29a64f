"""Backbone factory, loss and the LightningModule."""

from __future__ import annotations

from pathlib import Path

import pytest
import timm
import torch
from safetensors.torch import save_file

from dfdet.errors import ModelConfigError
from dfdet.models import BinaryCrossEntropy, DeepfakeDetector, build_backbone


@pytest.mark.parametrize("name", ["test_efficientnet", "test_resnet", "test_convnext", "resnet18"])
def test_any_timm_model_gives_one_logit(name: str) -> None:
    net = build_backbone(name)
    model = DeepfakeDetector(net, optimizer=torch.optim.SGD)
    out = model.eval()(torch.randn(3, 3, 64, 64))
    assert out.shape == (3,)
    out.sum().backward()
    assert all(p.grad is not None for p in net.parameters() if p.requires_grad)


def test_unknown_name_suggests_close_names() -> None:
    with pytest.raises(ModelConfigError, match="resnet18"):
        build_backbone("resnet-18")


def test_unreachable_pretrained_weights_say_how_to_provide_them(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "torch-hub"))
    monkeypatch.setattr("dfdet.models.backbone.cached_weights", lambda name: None)
    with pytest.raises(ModelConfigError, match="checkpoint_path") as info:
        build_backbone("test_efficientnet", pretrained=True)
    assert "test_efficientnet" in str(info.value)


def test_local_weights_file_is_loaded(tmp_path: Path) -> None:
    reference = timm.create_model("test_resnet", num_classes=1000)
    path = tmp_path / "weights.safetensors"
    save_file({k: v.contiguous() for k, v in reference.state_dict().items()}, str(path))
    net = build_backbone("test_resnet", checkpoint_path=str(path))
    loaded, ref = net.state_dict(), reference.state_dict()
    shared = [k for k in ref if k in loaded and loaded[k].shape == ref[k].shape]
    assert len(shared) > 10
    for key in shared:
        torch.testing.assert_close(loaded[key], ref[key])
    assert loaded["fc.weight"].shape[0] == 1  # the classifier is replaced by one fake logit
    with pytest.raises(ModelConfigError, match="does not exist"):
        build_backbone("test_resnet", checkpoint_path=str(tmp_path / "nope.pth"))


def test_balanced_loss_weights_fakes_by_class_ratio() -> None:
    loss = BinaryCrossEntropy(pos_weight="balanced")
    loss.set_class_counts(n_real=100, n_fake=400)
    assert loss.pos_weight.item() == pytest.approx(0.25)
    logits, target = torch.tensor([0.3, -0.2]), torch.tensor([1.0, 0.0])
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits, target, pos_weight=torch.tensor(0.25))
    torch.testing.assert_close(loss(logits, target), expected)
    with pytest.raises(ValueError, match="balanced"):
        BinaryCrossEntropy(pos_weight="auto")


def test_channels_last_gives_the_same_logits() -> None:
    torch.manual_seed(0)
    net = build_backbone("test_resnet")
    x = torch.randn(2, 3, 64, 64)
    plain = DeepfakeDetector(net, optimizer=torch.optim.SGD).eval()(x)
    fast = DeepfakeDetector(net, optimizer=torch.optim.SGD, channels_last=True).eval()(x)
    torch.testing.assert_close(fast, plain, atol=1e-5, rtol=1e-4)
    assert "_compiled_net" not in dict(DeepfakeDetector(net, optimizer=torch.optim.SGD).named_children())
