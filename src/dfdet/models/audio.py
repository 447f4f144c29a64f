"""Audio anti-spoofing networks: waveform (B, T) in, one fake logit per utterance (B, 1) out.

Each network owns its front-end (:mod:`dfdet.models.frontends`), so the whole path from samples to logit is one
module: the same checkpoint scores files, video sound tracks or an exported graph.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from dfdet.models.backbone import build_backbone


class MaxFeatureMap(nn.Module):
    """Max-Feature-Map (Wu et al. 2018): splits the channels in two halves and keeps the element-wise maximum.

    Args:
        dim: the channel axis (1 for convolutions, -1 for linear layers).

    Shapes: (B, 2C, ...) -> (B, C, ...) along ``dim``.
    """

    def __init__(self, dim: int = 1) -> None:
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dim = self.dim % x.ndim
        return x.unflatten(dim, (2, x.shape[dim] // 2)).max(dim=dim).values


def _mfm_conv(cin: int, cout: int, kernel: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, 2 * cout, kernel, padding=kernel // 2), MaxFeatureMap())


class LCNN(nn.Module):
    """Light CNN with Max-Feature-Map activations, the ASVspoof 2019 LCNN (Lavrentyeva et al. 2019) layout.

    Conv 5x5 / MFM / max-pool, then four stages of [1x1 MFM conv, batch norm, 3x3 MFM conv] with max-pooling
    between them, then a per-frame MFM projection averaged over time (so any utterance length works, as in Wang and
    Yamagishi's LFCC-LCNN) and a linear fake logit.

    Args:
        frontend: maps (B, T) waveforms to (B, 1, F, frames) features (LFCC, LogMel, ...).
        channels: output channels of the five stages (the paper's 32, 48, 64, 32, 32 scaled as you like).
        embedding: size of the per-frame MFM projection (80 in the paper).
        dropout: before the classifier.
        n_features: feature rows ``F`` the front-end produces (``frontend.n_features`` when it has one).

    Shapes: (B, T) -> (B, 1) logits.
    """

    def __init__(
        self,
        frontend: nn.Module,
        channels: Sequence[int] = (32, 48, 64, 32, 32),
        embedding: int = 80,
        dropout: float = 0.5,
        n_features: int | None = None,
    ) -> None:
        super().__init__()
        if len(channels) != 5:
            raise ValueError(f"LCNN takes 5 stage widths, got {list(channels)}")
        self.frontend = frontend
        c1, c2, c3, c4, c5 = (int(c) for c in channels)

        def pooled(cin: int, cout: int, kernel: int) -> list[nn.Module]:
            # MFM then 2x2 max-pool equals max-pool then MFM (both are maxima): pooling first is 4x cheaper.
            return [nn.Conv2d(cin, 2 * cout, kernel, padding=kernel // 2), nn.MaxPool2d(2, 2), MaxFeatureMap()]

        def reduce(c: int) -> list[nn.Module]:
            return [_mfm_conv(c, c, 1), nn.BatchNorm2d(c)]

        self.features = nn.Sequential(
            *pooled(1, c1, 5),
            *reduce(c1), *pooled(c1, c2, 3), nn.BatchNorm2d(c2),
            *reduce(c2), *pooled(c2, c3, 3),
            *reduce(c3), _mfm_conv(c3, c4, 3), nn.BatchNorm2d(c4),
            *reduce(c4), *pooled(c4, c5, 3),
        )  # fmt: skip
        rows = n_features if n_features is not None else getattr(frontend, "n_features", None)
        if rows is None:
            with torch.no_grad():
                rows = frontend(torch.zeros(1, 16000)).shape[2]
        self.projection = nn.Sequential(nn.Linear(c5 * (rows // 16), 2 * embedding), MaxFeatureMap(dim=-1))
        self.head = nn.Sequential(nn.BatchNorm1d(embedding), nn.Dropout(dropout), nn.Linear(embedding, 1))

    def forward_frames(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T) waveforms -> (B, frames', embedding) per-frame embeddings (frames' = front-end frames / 16)."""
        f = self.features(self.frontend(x))  # (B, C, F', frames')
        f = f.flatten(1, 2).transpose(1, 2)  # (B, frames', C * F')
        return self.projection(f)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T) waveforms -> (B, embedding) utterance embeddings."""
        return self.forward_frames(x).mean(dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(x))


class SpectrogramClassifier(nn.Module):
    """A front-end followed by an image network on the 1-channel feature map.

    Args:
        frontend: maps (B, T) to (B, 1, F, frames).
        backbone: maps (B, 1, F, frames) to (B, 1) logits (e.g. a timm model with ``in_chans=1``).

    Shapes: (B, T) -> (B, 1) logits.
    """

    def __init__(self, frontend: nn.Module, backbone: nn.Module) -> None:
        super().__init__()
        self.frontend = frontend
        self.backbone = backbone

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(self.frontend(x))


def build_spectrogram_classifier(
    frontend: nn.Module,
    name: str,
    pretrained: bool = False,
    checkpoint_path: str | None = None,
    drop_rate: float = 0.0,
    **kwargs: Any,  # timm.create_model keywords (through build_backbone)
) -> SpectrogramClassifier:
    """Any timm model by name on a 1-channel spectrogram (see :func:`dfdet.models.build_backbone`).

    Args:
        frontend: maps (B, T) to (B, 1, F, frames).
        name: timm model name (``resnet18``, ``test_resnet``, ``efficientnet_b0``, ...).
        pretrained: ImageNet weights, first convolution summed to one input channel by timm.
        checkpoint_path: local weights file instead of the hub.
        drop_rate: dropout before the classifier.
        **kwargs: passed to ``timm.create_model``.
    """
    backbone = build_backbone(
        name,
        pretrained=pretrained,
        checkpoint_path=checkpoint_path,
        num_classes=1,
        in_chans=1,
        drop_rate=drop_rate,
        **kwargs,
    )
    return SpectrogramClassifier(frontend, backbone)
