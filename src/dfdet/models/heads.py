"""Temporal heads: from per-frame features of a clip (B, T, D) to one fake logit per clip (B, 1).

Each head is built by the detector with ``in_features`` = the backbone's feature width, so configs give them as
``_partial_`` (see conf/model/head/).
"""

from __future__ import annotations

import math

import torch
from torch import nn


class MeanHead(nn.Module):
    """Average of the frame features, then a linear classifier."""

    def __init__(self, in_features: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.fc = nn.Sequential(nn.Dropout(dropout), nn.Linear(in_features, 1))

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        """Args: feats (B, T, D). Returns logits (B, 1)."""
        return self.fc(feats.mean(1))


class AttentionHead(nn.Module):
    """Attention pooling over time: a learned score per frame, softmax weights, weighted mean, linear classifier."""

    def __init__(self, in_features: int, hidden: int = 128, dropout: float = 0.0) -> None:
        super().__init__()
        self.score = nn.Sequential(nn.Linear(in_features, hidden), nn.Tanh(), nn.Linear(hidden, 1))
        self.fc = nn.Sequential(nn.Dropout(dropout), nn.Linear(in_features, 1))

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        weights = torch.softmax(self.score(feats), dim=1)  # (B, T, 1)
        return self.fc((weights * feats).sum(1))


class RecurrentHead(nn.Module):
    """LSTM or GRU over the frame features; the classifier reads the last hidden state (both directions)."""

    def __init__(
        self,
        in_features: int,
        kind: str = "lstm",
        hidden: int = 128,
        layers: int = 1,
        bidirectional: bool = True,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        rnn = {"lstm": nn.LSTM, "gru": nn.GRU}.get(kind)
        if rnn is None:
            raise ValueError(f"RecurrentHead kind must be 'lstm' or 'gru', got '{kind}'")
        self.rnn = rnn(
            in_features,
            hidden,
            num_layers=layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=dropout if layers > 1 else 0.0,
        )
        self.fc = nn.Sequential(nn.Dropout(dropout), nn.Linear(hidden * (2 if bidirectional else 1), 1))

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(feats)  # (B, T, H * dirs)
        hidden = self.rnn.hidden_size
        last = torch.cat([out[:, -1, :hidden], out[:, 0, hidden:]], dim=1) if self.rnn.bidirectional else out[:, -1]
        return self.fc(last)


class TransformerHead(nn.Module):
    """A small temporal transformer: projection, learned positions, a CLS token, ``layers`` encoder layers."""

    def __init__(
        self,
        in_features: int,
        dim: int = 128,
        heads: int = 4,
        layers: int = 2,
        max_len: int = 64,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.proj = nn.Linear(in_features, dim)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.randn(1, max_len + 1, dim) / math.sqrt(dim))
        layer = nn.TransformerEncoderLayer(dim, heads, dim * 2, dropout, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.fc = nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, 1))

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        b, t, _ = feats.shape
        if t + 1 > self.pos.shape[1]:
            raise ValueError(f"clip of {t} frames exceeds the head's max_len {self.pos.shape[1] - 1}")
        x = torch.cat([self.cls.expand(b, -1, -1), self.proj(feats)], dim=1) + self.pos[:, : t + 1]
        return self.fc(self.encoder(x)[:, 0])


class TemporalConvHead(nn.Module):
    """Temporal convolutions (1-D over time, residual), then average pooling and a linear classifier."""

    def __init__(
        self, in_features: int, channels: int = 128, kernel: int = 3, layers: int = 2, dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.proj = nn.Conv1d(in_features, channels, 1)
        self.blocks = nn.ModuleList(
            nn.Sequential(
                nn.Conv1d(channels, channels, kernel, padding=kernel // 2),
                nn.BatchNorm1d(channels),
                nn.ReLU(inplace=True),
            )
            for _ in range(layers)
        )
        self.fc = nn.Sequential(nn.Dropout(dropout), nn.Linear(channels, 1))

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        x = self.proj(feats.transpose(1, 2))  # (B, C, T)
        for block in self.blocks:
            x = x + block(x)
        return self.fc(x.mean(2))
