"""Losses on logits."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class BinaryCrossEntropy(nn.Module):
    """BCE on fake logits with optional class weighting.

    Args:
        pos_weight: weight of the fake class: a number, ``"balanced"`` (n_real / n_fake of the training set, set
            by the LightningModule through :meth:`set_class_counts`), or None for no weighting.
        label_smoothing: targets become ``y * (1 - s) + 0.5 * s``.
    """

    pos_weight: torch.Tensor

    def __init__(self, pos_weight: float | str | None = None, label_smoothing: float = 0.0) -> None:
        super().__init__()
        if isinstance(pos_weight, str) and pos_weight != "balanced":
            raise ValueError(f"loss.pos_weight must be a number, 'balanced' or null, got '{pos_weight}'")
        self.mode = pos_weight
        self.label_smoothing = label_smoothing
        initial = float(pos_weight) if isinstance(pos_weight, (int, float)) else 1.0
        self.register_buffer("pos_weight", torch.tensor(initial))

    def set_class_counts(self, n_real: int, n_fake: int) -> None:
        """Sets the fake-class weight to n_real / n_fake when configured as ``balanced``."""
        if self.mode == "balanced" and n_fake > 0:
            self.pos_weight.fill_(n_real / n_fake)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Args: logits (B,), target (B,) in {0, 1}. Returns the mean loss ()."""
        target = target.float() * (1 - self.label_smoothing) + 0.5 * self.label_smoothing
        weight = self.pos_weight if self.mode is not None else None
        return F.binary_cross_entropy_with_logits(logits, target, pos_weight=weight)
