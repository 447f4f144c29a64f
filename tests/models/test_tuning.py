"""Tuning strategies (model/tuning=...): what trains, what stays bit-identical, Effort's SVD, merged export."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import onnx
import pytest
import torch
from hydra.utils import instantiate
from torch import nn

from dfdet.export.formats import LogitNet, load_onnx
from dfdet.models import DeepfakeDetector, build_backbone, load_detector
from dfdet.models.svd_residual import SVDResidualLinear
from dfdet.models.tuning import (
    LayerNormTuning,
    LinearProbe,
    LoRA,
    SVDResidual,
    alignment,
    count_parameters,
    has_adapters,
    merge_for_export,
    uniformity,
)
from dfdet.tasks import train as train_task
from dfdet.tasks.export import export

STRATEGIES = ("full", "linear_probe", "layernorm", "lora", "svd_residual")
TINY_VIT = ["model.net.name=test_vit", "+model.net.img_size=32", "model.input.size=32"]  # 6 blocks, width 64


def tiny_vit(**kwargs: Any) -> nn.Module:
    return build_backbone("test_vit", img_size=32, **kwargs)


def expected_trained(strategy: str, net: nn.Module) -> int:
    """The trained-parameter count of each strategy on a freshly built timm ViT, counted from its layers."""
    head = sum(p.numel() for p in net.get_classifier().parameters())
    linears = {n: m for n, m in net.named_modules() if n.endswith(("attn.qkv", "attn.proj"))}
    if strategy == "full":
        return count_parameters(net)[1]
    if strategy == "linear_probe":
        return head
    if strategy == "layernorm":
        return head + sum(p.numel() for m in net.modules() if isinstance(m, nn.LayerNorm) for p in m.parameters())
    if strategy == "lora":  # r = 8: A (8, in) and B (out, 8) per adapted layer
        return head + sum(8 * (m.in_features + m.out_features) for m in linears.values())
    # svd_residual, residual_rank 1: U_res (out, 1), S_res (1,), V_res (1, in) and the bias per layer
    return head + sum(m.out_features + 1 + m.in_features + m.out_features for m in linears.values())


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_strategy_trains_through_config_and_frozen_tensors_stay_bit_identical(
    tiny_cfg, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, strategy: str
) -> None:
    built: dict[str, Any] = {}
    real_build = train_task.build

    def recording_build(node: Any, **kwargs: Any) -> Any:
        obj = real_build(node, **kwargs)
        if isinstance(obj, DeepfakeDetector):
            built["model"] = obj
            built["before"] = {k: v.detach().clone() for k, v in obj.state_dict().items()}
            built["frozen"] = {f"net.{n}" for n, p in obj.net.named_parameters() if not p.requires_grad}
        return obj

    monkeypatch.setattr(train_task, "build", recording_build)
    metrics = train_task.train(tiny_cfg(*TINY_VIT, f"model/tuning={strategy}"))
    assert 0 <= metrics["test/auc"] <= 1

    model, before, frozen = built["model"], built["before"], built["frozen"]
    fresh = tiny_vit()
    trained, total = count_parameters(model)
    assert trained == expected_trained(strategy, fresh)
    info = json.loads((tmp_path / "run" / "run_info.json").read_text())
    assert (info["params/trained"], info["params/total"]) == (trained, total)

    after = torch.load(tmp_path / "run" / "checkpoints" / "best.ckpt", weights_only=True)["state_dict"]
    assert (strategy == "full") == (not frozen)
    for key in frozen:
        assert torch.equal(before[key], after[key]), f"{strategy}: frozen {key} changed"
    changed = [k for k, p in model.named_parameters() if p.requires_grad and not torch.equal(before[k], after[k])]
    assert changed, f"{strategy}: nothing trained"


def test_linear_probe_and_layernorm_train_what_they_say() -> None:
    probe = LinearProbe()(tiny_vit())
    assert {n for n, p in probe.named_parameters() if p.requires_grad} == {"head.weight", "head.bias"}
    gend = LayerNormTuning()(tiny_vit())
    names = {n for n, p in gend.named_parameters() if p.requires_grad}
    assert "head.linear.weight" in names and "blocks.0.norm1.weight" in names
    assert not any(n.endswith(("qkv.weight", "fc1.weight", "patch_embed.proj.weight")) for n in names)


def test_layernorm_head_is_normalised_and_its_losses_follow_wang_isola() -> None:
    net = LayerNormTuning(alignment=1.0, uniformity=0.5)(tiny_vit()).train()
    x = torch.randn(4, 3, 32, 32)
    net(x)
    feats = net.get_classifier().features
    assert torch.allclose(feats.norm(dim=1), torch.ones(4), atol=1e-5)
    labels = torch.tensor([0, 1, 0, 1])
    losses = LayerNormTuning(alignment=1.0, uniformity=0.5).losses(net, labels)
    assert set(losses) == {"align", "uniform"}
    expected = ((feats[0] - feats[2]).norm() ** 2 + (feats[1] - feats[3]).norm() ** 2) / 2
    assert torch.allclose(losses["align"], expected)
    assert net.get_classifier().features is None  # taken with its graph
    # Unit vectors: identical points give uniformity 0 (its maximum); opposite points give log(exp(-8)) = -8.
    e = torch.tensor([[1.0, 0.0], [-1.0, 0.0]])
    assert float(uniformity(e)) == pytest.approx(-8.0)
    assert float(alignment(e, torch.tensor([0, 1]))) == 0.0


def test_svd_residual_at_initialisation_equals_the_original_weight() -> None:
    torch.manual_seed(0)
    linear = nn.Linear(48, 144)  # a qkv-shaped (3D x D) weight: not square
    layer = SVDResidualLinear.from_linear(linear, residual_rank=4)
    assert torch.allclose(layer.weight(), linear.weight, atol=1e-5)
    x = torch.randn(5, 48)
    assert torch.allclose(layer(x), linear(x), atol=1e-5)
    assert float(layer.orthogonality_loss().detach()) < 1e-10
    assert float(layer.keep_sv_loss().detach()) < 1e-4 * float(linear.weight.detach().pow(2).sum())
    assert torch.allclose(layer.to_linear().weight, linear.weight, atol=1e-5)
    with pytest.raises(ValueError, match="residual_rank"):
        SVDResidualLinear.from_linear(linear, residual_rank=48)


def test_svd_residual_regularisers_grow_when_the_residual_leaves_its_subspace() -> None:
    torch.manual_seed(0)
    layer = SVDResidualLinear.from_linear(nn.Linear(32, 32), residual_rank=2)
    with torch.no_grad():
        layer.U_res.add_(0.1 * torch.randn_like(layer.U_res))
        layer.S_res.mul_(3.0)
    assert float(layer.orthogonality_loss().detach()) > 1e-3
    assert float(layer.keep_sv_loss().detach()) > 1e-3
    net = SVDResidual(residual_rank=2)(tiny_vit())
    losses = SVDResidual(orthogonality=0.5, keep_sv=2.0).losses(net, torch.tensor([0, 1]))
    assert set(losses) == {"orth", "keep_sv"} and all(float(v) < 1e-3 for v in losses.values())


@pytest.mark.parametrize("strategy", [LoRA(targets=["qkv", "proj", "fc1", "fc2"]), SVDResidual(residual_rank=2)])
def test_merge_for_export_gives_a_plain_network_with_the_same_outputs(strategy: Any) -> None:
    net = strategy(tiny_vit()).eval()
    with torch.no_grad():  # move the adapters off their initialisation so that merging has something to fold
        for name, param in net.named_parameters():
            if param.requires_grad and not name.startswith("head"):
                param.add_(0.05 * torch.randn_like(param))
    x = torch.randn(3, 3, 32, 32)
    expected = net(x)
    merged = merge_for_export(copy.deepcopy(net))
    assert not has_adapters(merged) and has_adapters(net)
    assert all(type(m).__module__.startswith(("torch.", "timm.")) for m in merged.modules())
    assert torch.allclose(merged(x), expected, atol=1e-5)


@pytest.mark.parametrize("strategy", ["lora", "svd_residual"])
def test_adapted_checkpoint_exports_merged_and_onnx_matches_eager(
    tiny_cfg, compose_cfg, tmp_path: Path, strategy: str
) -> None:
    train_task.train(tiny_cfg(*TINY_VIT, f"model/tuning={strategy}", "model.optimizer.lr=0.01"))
    ckpt = tmp_path / "run" / "checkpoints" / "best.ckpt"
    model, _ = load_detector(ckpt)
    assert has_adapters(model.net)
    if strategy == "lora":  # trained adapters: B left its zero initialisation, so the merge matters
        assert any(float(p.abs().max()) > 0 for n, p in model.net.named_parameters() if "lora_B" in n)
    out = tmp_path / "exported"
    cfg = compose_cfg("export", [f"ckpt_path={ckpt}", f"output_dir={out}", "format=onnx", "speed=null"])
    results = export(cfg)
    assert max(results["onnx"]["max_abs_diff"].values()) <= 1e-4
    graph = onnx.load(str(out / "best.onnx")).graph
    assert not any("lora" in i.name or "_res" in i.name for i in graph.initializer)  # a plain network
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        eager = model(x)
    assert torch.allclose(load_onnx(out / "best.onnx")(x), eager, atol=1e-4)
    assert has_adapters(LogitNet.from_detector(model).net) is False and has_adapters(model.net)


def test_tuning_composes_with_every_option(tiny_cfg) -> None:
    for strategy in STRATEGIES:
        cfg = tiny_cfg(*TINY_VIT, f"model/tuning={strategy}")
        model = instantiate(cfg.model)
        assert model.eval()(torch.randn(2, 3, 32, 32)).shape == (2,)


@pytest.mark.parametrize("strategy", ["lora", "svd_residual"])
def test_grad_checkpointing_keeps_outputs_and_gradients(compose_cfg, strategy: str) -> None:
    """``model.grad_checkpointing=true`` (timm's set_grad_checkpointing): the same loss and the same gradient on every
    trained parameter, with a frozen backbone and inputs that need no gradient."""
    from hydra.utils import instantiate

    def grads(checkpointing: bool) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        cfg = compose_cfg("train", ["model=clip_b16", "model.net.name=test_vit", "model.net.pretrained=false",
                                    "++model.net.img_size=32", "model.input.size=32", f"model/tuning={strategy}",
                                    f"model.grad_checkpointing={str(checkpointing).lower()}"])  # fmt: skip
        torch.manual_seed(0)
        model = instantiate(cfg.model).train()
        x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
        loss = model(x).square().sum()
        loss.backward()
        return loss.detach(), {n: p.grad for n, p in model.named_parameters() if p.requires_grad}

    loss, plain = grads(False)
    loss_ckpt, checkpointed = grads(True)
    torch.testing.assert_close(loss_ckpt, loss)
    assert plain.keys() == checkpointed.keys() and all(g is not None for g in checkpointed.values())
    for name, grad in plain.items():
        torch.testing.assert_close(checkpointed[name], grad, atol=1e-6, rtol=1e-5)


def test_grad_checkpointing_needs_a_timm_network() -> None:
    from dfdet.errors import ModelConfigError

    with pytest.raises(ModelConfigError, match="grad_checkpointing"):
        DeepfakeDetector(nn.Linear(4, 1), optimizer=torch.optim.SGD, grad_checkpointing=True)
