"""Effort's SVD residual linear layer, written from the paper: Yan et al., "Orthogonal Subspace Decomposition for
Generalizable AI-Generated Image Detection", ICML 2025.

A linear weight W (out x in) is decomposed as W = U S V^T (thin SVD, k = min(out, in) directions). The top
``k - m`` singular directions form the frozen principal part W_r = U_r S_r V_r^T; the last m directions are a
trainable residual W_res = U_res diag(S_res) V_res^T initialised from W's own residual, so W_r + W_res = W at
initialisation. Two regularisers keep the residual an honest complement of the principal subspace:

- orthogonality: ``||[U_r U_res]^T [U_r U_res] - I||_F^2 + ||[V_r V_res]^T [V_r V_res] - I||_F^2``, computed as
  ``2 ||U_r^T U_res||_F^2 + ||U_res^T U_res - I||_F^2`` (and V alike), since U_r is frozen with orthonormal columns;
- singular-value preservation: ``| ||W_hat||_F^2 - ||W||_F^2 |`` with W_hat = W_r + W_res the current weight.

What was checked and what was not: the layout follows the paper's description and the re-implementation of Effort
in the GenD repository (yermandy/GenD, ``src/model/effort/model.py``); the authors' repository
(YZY-stack/Effort-AIGI-Detection) was not reachable from here. That re-implementation writes the orthogonality term
as ``||U U^T - I||_F`` (not squared), which is zero at initialisation only for square weights; the ``U^T U`` form
used here is zero at initialisation for every shape (ViT ``qkv`` weights are 3D x D), and squared norms keep the
gradient finite at zero. The loss weights and the per-layer averaging are this module's choices.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class SVDResidualLinear(nn.Module):
    """A linear layer whose weight is a frozen principal part plus a trainable SVD residual.

    Attributes (frozen ``requires_grad=False`` parameters): ``weight_main`` (out, in) = U_r S_r V_r^T, ``U_r``
    (out, k - m), ``V_r`` (k - m, in) (V^T rows), ``weight_fnorm`` (the original ``||W||_F``).
    Trainable: ``U_res`` (out, m), ``S_res`` (m,), ``V_res`` (m, in), and ``bias``.
    """

    def __init__(self, in_features: int, out_features: int, principal: int, residual: int, bias: bool = True) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        frozen = dict(requires_grad=False)
        self.weight_main = nn.Parameter(torch.zeros(out_features, in_features), **frozen)
        self.U_r = nn.Parameter(torch.zeros(out_features, principal), **frozen)
        self.V_r = nn.Parameter(torch.zeros(principal, in_features), **frozen)
        self.weight_fnorm = nn.Parameter(torch.zeros(()), **frozen)
        self.U_res = nn.Parameter(torch.zeros(out_features, residual))
        self.S_res = nn.Parameter(torch.zeros(residual))
        self.V_res = nn.Parameter(torch.zeros(residual, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None

    @classmethod
    def from_linear(cls, linear: nn.Linear, residual_rank: int) -> SVDResidualLinear:
        """Decomposes ``linear`` (SVD in float64); the bias is copied and trains.

        Args:
            linear: the layer to decompose.
            residual_rank: m, the trailing singular directions that train (1 <= m < min(out, in)).
        """
        weight = linear.weight.detach()
        k = min(weight.shape)
        if not 1 <= residual_rank < k:
            raise ValueError(
                f"residual_rank={residual_rank} must be in [1, {k - 1}] for a {tuple(weight.shape)} weight"
            )
        principal = k - residual_rank
        u, s, vh = torch.linalg.svd(weight.double(), full_matrices=False)
        layer = cls(linear.in_features, linear.out_features, principal, residual_rank, bias=linear.bias is not None)
        dtype = weight.dtype
        with torch.no_grad():
            layer.weight_main.copy_((u[:, :principal] * s[:principal]) @ vh[:principal])
            layer.U_r.copy_(u[:, :principal])
            layer.V_r.copy_(vh[:principal])
            layer.weight_fnorm.copy_(torch.linalg.matrix_norm(weight.double()))
            layer.U_res.copy_(u[:, principal:])
            layer.S_res.copy_(s[principal:])
            layer.V_res.copy_(vh[principal:])
            if linear.bias is not None and layer.bias is not None:
                layer.bias.copy_(linear.bias.detach())
        return layer.to(device=weight.device, dtype=dtype)

    def residual_weight(self) -> torch.Tensor:
        """U_res diag(S_res) V_res, (out, in)."""
        return (self.U_res * self.S_res) @ self.V_res

    def weight(self) -> torch.Tensor:
        """The current weight W_hat = W_r + W_res, (out, in)."""
        return self.weight_main + self.residual_weight()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x (..., in). Returns (..., out)."""
        return F.linear(x, self.weight(), self.bias)

    def orthogonality_loss(self) -> torch.Tensor:
        """``||[U_r U_res]^T [U_r U_res] - I||_F^2 + (V alike)``; zero at initialisation."""
        eye = torch.eye(self.S_res.numel(), device=self.S_res.device, dtype=self.S_res.dtype)
        u_cross = (self.U_r.T @ self.U_res).pow(2).sum()
        v_cross = (self.V_r @ self.V_res.T).pow(2).sum()
        u_self = (self.U_res.T @ self.U_res - eye).pow(2).sum()
        v_self = (self.V_res @ self.V_res.T - eye).pow(2).sum()
        return 2 * (u_cross + v_cross) + u_self + v_self

    def keep_sv_loss(self) -> torch.Tensor:
        """``| ||W_hat||_F^2 - ||W||_F^2 |``; zero at initialisation (up to rounding)."""
        return (self.weight().pow(2).sum() - self.weight_fnorm.pow(2)).abs()

    def to_linear(self) -> nn.Linear:
        """A plain ``nn.Linear`` holding the current weight (for export)."""
        linear = nn.Linear(self.in_features, self.out_features, bias=self.bias is not None)
        linear = linear.to(device=self.weight_main.device, dtype=self.weight_main.dtype)
        with torch.no_grad():
            linear.weight.copy_(self.weight())
            if self.bias is not None:
                linear.bias.copy_(self.bias)
        return linear


def svd_residual_losses(net: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """(orthogonality, singular-value preservation), each the mean over the network's SVD residual layers."""
    layers = [m for m in net.modules() if isinstance(m, SVDResidualLinear)]
    if not layers:
        zero = torch.zeros(())
        return zero, zero
    orth = torch.stack([m.orthogonality_loss() for m in layers]).mean()
    keep = torch.stack([m.keep_sv_loss() for m in layers]).mean()
    return orth, keep
