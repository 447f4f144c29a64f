"""Tuning strategies: which parts of a built network train, applied once to ``model.net`` (``model/tuning=...``).

Each strategy is a callable object: ``strategy(net)`` freezes, replaces or wraps layers of the network in place and
returns it; ``strategy.losses(net, labels)`` gives its extra training-loss terms (already weighted; empty for most);
:func:`merge_for_export` turns any adapted network back into a plain one (LoRA merged into its base weights, SVD
residual layers recombined into ``nn.Linear``), so exported graphs hold no adapter.

- :class:`Full`: every parameter trains (the default).
- :class:`LinearProbe`: frozen backbone, the linear classifier alone (UnivFD: Ojha et al., "Towards Universal Fake
  Image Detectors that Generalize Across Generative Models", CVPR 2023).
- :class:`LayerNormTuning`: LayerNorm affine parameters plus an L2-normalised linear head, with the alignment and
  uniformity terms of Wang & Isola (ICML 2020) on the normalised features as loss options (GenD: Yermakov et al.,
  WACV 2026).
- :class:`LoRA`: low-rank adapters through the ``peft`` library on the named linear layers (imported only here).
- :class:`SVDResidual`: Effort (Yan et al., "Orthogonal Subspace Decomposition for Generalizable AI-Generated Image
  Detection", ICML 2025), see :mod:`dfdet.models.svd_residual`.

The classifier (timm's ``get_classifier()``) trains under every strategy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from dfdet.errors import ModelConfigError
from dfdet.models.svd_residual import SVDResidualLinear, svd_residual_losses

Losses = dict[str, torch.Tensor]


def count_parameters(module: nn.Module) -> tuple[int, int]:
    """(trained, total) parameter counts of ``module`` (trained: ``requires_grad``)."""
    params = list(module.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


def classifier(net: nn.Module) -> nn.Module:
    """The network's linear classifier (timm's ``get_classifier()``)."""
    get = getattr(net, "get_classifier", None)
    if get is None:
        raise ModelConfigError("model.tuning needs a network with get_classifier() (a timm model)")
    return get()


def _freeze_all_but(net: nn.Module, trained: Sequence[nn.Module]) -> None:
    keep = {id(p) for m in trained for p in m.parameters()}
    for param in net.parameters():
        param.requires_grad = id(param) in keep


def target_linears(net: nn.Module, targets: Sequence[str]) -> list[str]:
    """Names of the ``nn.Linear`` modules of ``net`` whose last name component is in ``targets`` (``qkv``, ``proj``,
    ``fc1``, ``fc2`` in timm ViTs), the classifier excluded.

    Raises:
        ModelConfigError: no linear layer matches.
    """
    head = classifier(net) if hasattr(net, "get_classifier") else None
    names = [
        name
        for name, module in net.named_modules()
        if isinstance(module, nn.Linear) and module is not head and name.rsplit(".", 1)[-1] in set(targets)
    ]
    if not names:
        raise ModelConfigError(f"model.tuning.targets={list(targets)} match no linear layer of the network")
    return names


class Full:
    """Full fine-tuning: every parameter trains."""

    def __call__(self, net: nn.Module) -> nn.Module:
        return net

    def losses(self, net: nn.Module, labels: torch.Tensor) -> Losses:
        """No extra terms."""
        return {}


class LinearProbe(Full):
    """Frozen backbone, linear classifier on the chosen feature (UnivFD, Ojha et al. CVPR 2023)."""

    def __call__(self, net: nn.Module) -> nn.Module:
        _freeze_all_but(net, [classifier(net)])
        return net


class NormalisedLinear(nn.Module):
    """Linear classifier on L2-normalised features (GenD's head); keeps the last training batch's normalised
    features in ``features`` until :meth:`LayerNormTuning.losses` takes them (alignment and uniformity terms).

    Args:
        in_features: feature width D.
        out_features: logits.
    """

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)
        self.features: torch.Tensor | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x (B, D) features. Returns (B, out_features) logits."""
        x = F.normalize(x, dim=-1)
        if self.training:
            self.features = x
        return self.linear(x)

    def train(self, mode: bool = True) -> NormalisedLinear:
        """Also drops the kept features (they hold the training graph)."""
        self.features = None
        return super().train(mode)


def alignment(features: torch.Tensor, labels: torch.Tensor, alpha: float = 2.0) -> torch.Tensor:
    """Wang & Isola's alignment within each class: mean ``||f_i - f_j||^alpha`` over same-label pairs i < j.

    Args:
        features: (B, D) unit-norm features.
        labels: (B,) class labels.
    """
    same = (labels[:, None] == labels[None, :]).triu(diagonal=1)
    if not same.any():
        return features.new_zeros(())
    i, j = same.nonzero(as_tuple=True)
    return (features[i] - features[j]).norm(dim=1).pow(alpha).mean()


def uniformity(features: torch.Tensor, t: float = 2.0) -> torch.Tensor:
    """Wang & Isola's uniformity: ``log mean exp(-t ||f_i - f_j||^2)`` over all pairs (B >= 2).

    Args:
        features: (B, D) unit-norm features.
    """
    if len(features) < 2:
        return features.new_zeros(())
    return torch.pdist(features).pow(2).mul(-t).exp().mean().log()


class LayerNormTuning(Full):
    """LayerNorm affine parameters plus an L2-normalised linear head (GenD, Yermakov et al. WACV 2026).

    Args:
        alignment: weight of the label-aware alignment term (0: off).
        uniformity: weight of the uniformity term (0: off).
    """

    def __init__(self, alignment: float = 0.0, uniformity: float = 0.0) -> None:
        self.alignment = alignment
        self.uniformity = uniformity

    def __call__(self, net: nn.Module) -> nn.Module:
        old = classifier(net)
        if not isinstance(old, nn.Linear):
            raise ModelConfigError("model/tuning=layernorm needs a linear classifier (timm's num_classes >= 1)")
        head = NormalisedLinear(old.in_features, old.out_features).to(old.weight.device, old.weight.dtype)
        head.linear.load_state_dict(old.state_dict())  # starts from the network's classifier (imported weights too)
        _replace_classifier(net, old, head)
        norms = [m for m in net.modules() if isinstance(m, nn.LayerNorm) and m.elementwise_affine]
        if not norms:
            raise ModelConfigError("model/tuning=layernorm: the network has no LayerNorm with affine parameters")
        _freeze_all_but(net, [*norms, head])
        return net

    def losses(self, net: nn.Module, labels: torch.Tensor) -> Losses:
        """``align`` and ``uniform`` terms on the last batch's normalised features, when weighted."""
        head = classifier(net)
        features = getattr(head, "features", None)
        out: Losses = {}
        if features is None:
            return out
        cast(NormalisedLinear, head).features = None  # taken: the graph it holds is freed with this step's
        if self.alignment:
            out["align"] = self.alignment * alignment(features, labels)
        if self.uniformity:
            out["uniform"] = self.uniformity * uniformity(features)
        return out


def _replace_classifier(net: nn.Module, old: nn.Module, new: nn.Module) -> None:
    for name, module in net.named_modules():
        if module is old:
            net.set_submodule(name, new)
            return
    raise ModelConfigError("the classifier is not a submodule of the network")


class LoRA(Full):
    """Low-rank adapters (Hu et al., ICLR 2022) through ``peft`` on the linear layers named by ``targets``; the base
    weights stay frozen, the adapters and the classifier train.

    Args:
        r: adapter rank.
        alpha: LoRA scaling numerator (the update is scaled by alpha / r).
        dropout: dropout on the adapter input.
        targets: last name components of the adapted linear layers (timm ViTs: ``qkv``, ``proj`` for attention,
            ``fc1``, ``fc2`` for the MLP).
    """

    def __init__(
        self, r: int = 8, alpha: int = 16, dropout: float = 0.0, targets: Sequence[str] = ("qkv", "proj")
    ) -> None:
        self.r, self.alpha, self.dropout, self.targets = r, alpha, dropout, list(targets)

    def __call__(self, net: nn.Module) -> nn.Module:
        from peft import LoraConfig, inject_adapter_in_model  # lazy: only LoRA runs pay peft's import

        names = target_linears(net, self.targets)
        config = LoraConfig(r=self.r, lora_alpha=self.alpha, lora_dropout=self.dropout, target_modules=names)
        head = classifier(net)
        inject_adapter_in_model(config, net)  # in place; freezes every non-adapter parameter
        for param in head.parameters():
            param.requires_grad = True
        return net


def _merge_lora(net: nn.Module) -> None:
    """Merges every peft LoRA layer into its base layer and puts the base layer back in its place (what peft's
    ``merge_and_unload`` does for a ``PeftModel``; adapters injected with ``inject_adapter_in_model`` have none)."""
    from peft.tuners.lora import LoraLayer

    for name, module in list(net.named_modules()):
        if isinstance(module, LoraLayer):
            module.merge()
            net.set_submodule(name, module.get_base_layer())


class SVDResidual(Full):
    """Effort (Yan et al., ICML 2025): each targeted linear weight split by SVD into a frozen principal part and a
    trainable residual (:class:`~dfdet.models.svd_residual.SVDResidualLinear`), with the paper's orthogonality and
    singular-value-preservation regularisers.

    Args:
        residual_rank: trailing singular directions that train (n - r in the paper's notation; Effort's ViT-L/14
            recipe keeps r = 1023 of 1024, i.e. 1).
        targets: last name components of the decomposed linear layers (Effort: the attention layers, ``qkv`` and
            ``proj`` in timm ViTs).
        orthogonality: weight of the orthogonality term (mean over layers).
        keep_sv: weight of the singular-value (Frobenius norm) preservation term (mean over layers).
    """

    def __init__(
        self,
        residual_rank: int = 1,
        targets: Sequence[str] = ("qkv", "proj"),
        orthogonality: float = 1.0,
        keep_sv: float = 1.0,
    ) -> None:
        self.residual_rank, self.targets = residual_rank, list(targets)
        self.orthogonality, self.keep_sv = orthogonality, keep_sv

    def __call__(self, net: nn.Module) -> nn.Module:
        names = target_linears(net, self.targets)
        for param in net.parameters():
            param.requires_grad = False
        for name in names:
            linear = cast(nn.Linear, net.get_submodule(name))  # target_linears returns nn.Linear names only
            net.set_submodule(name, SVDResidualLinear.from_linear(linear, self.residual_rank))
        for param in classifier(net).parameters():
            param.requires_grad = True
        return net

    def losses(self, net: nn.Module, labels: torch.Tensor) -> Losses:
        """``orth`` and ``keep_sv`` terms (weighted means over the decomposed layers)."""
        orth, keep = svd_residual_losses(net)
        return {"orth": self.orthogonality * orth, "keep_sv": self.keep_sv * keep}


def has_adapters(net: nn.Module) -> bool:
    """Whether ``net`` holds LoRA (peft) or SVD residual layers that :func:`merge_for_export` folds."""
    return any(isinstance(m, SVDResidualLinear) or type(m).__module__.startswith("peft.") for m in net.modules())


def merge_for_export(net: nn.Module) -> nn.Module:
    """``net`` with every adapter folded into plain layers (in place; pass a copy to keep the original): LoRA merged
    into its base linear layers, SVD residual layers recombined into ``nn.Linear``. Plain networks pass unchanged."""
    if any(type(m).__module__.startswith("peft.") for m in net.modules()):
        _merge_lora(net)
    for name, module in list(net.named_modules()):
        if isinstance(module, SVDResidualLinear):
            net.set_submodule(name, module.to_linear())
    return net


def describe(net: nn.Module) -> dict[str, Any]:
    """``params/trained``, ``params/total`` and their ratio, for logs and ``run_info.json``."""
    trained, total = count_parameters(net)
    return {"params/trained": trained, "params/total": total, "params/trained_fraction": trained / max(total, 1)}
