"""AASIST (Jung et al., "AASIST: Audio Anti-Spoofing using Integrated Spectro-Temporal Graph Attention Networks",
ICASSP 2022) and its graph back-end, shared with the self-supervised front-ends (:mod:`dfdet.models.ssl`).

Waveform (B, T) -> fixed mel-spaced sinc filters (:class:`~dfdet.models.rawnet.SincConv`), |.|, 3x3 max-pool, BN,
SELU -> six 2-D residual blocks (RawNet-style encoder, time pooled by 3 in each) -> a spectro-temporal map
(B, C, F, T') -> :class:`GraphBackend`:

- spectral nodes: max of |map| over time (+ a learnt positional embedding per sub-band), a graph attention layer
  (GAT) and graph pooling; temporal nodes: max over frequency, GAT, graph pooling;
- two branches of heterogeneous stacking graph attention (HS-GAL): the two graphs joined into one heterogeneous
  graph with type-aware attention and a stack (master) node, pooled, and a second HS-GAL added residually;
- the max graph operation (MGO): element-wise maximum of the two branches' nodes (and stack nodes);
- readout: max of |nodes| and mean of nodes of each type, plus the stack node, dropout, linear -> fake logit.

Written from the paper and checked against the authors' release (clovaai/aasist, ``models/AASIST.py``), whose
hyper-parameters the configs copy, including its fixed sinc filter bank (edges evenly spaced in mel from 0 Hz to the
Nyquist frequency, ideal band-pass filters of pass-band gain 1, Hamming-windowed) and its attention (each node's
weights normalised over the nodes it attends to). Differences: one fake logit instead of two softmax outputs (161
and 33 fewer parameters for AASIST and AASIST-L); "same" padding on the sinc layer; the stack nodes are learnt
parameters as in the release. The release's residual block computes its pre-activation (BN, SELU) and then
convolves the block input instead (``out = self.conv1(x)``); ``faithful_release=True`` (default) keeps that
behaviour, whose weights and results the paper reports, ``False`` applies the pre-activation.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from dfdet.models.rawnet import SincConv


def _attention_weight(dim: int) -> nn.Parameter:
    weight = nn.Parameter(torch.empty(dim, 1))
    nn.init.xavier_normal_(weight)
    return weight


def _batch_norm_nodes(bn: nn.BatchNorm1d, x: torch.Tensor) -> torch.Tensor:
    """Batch norm over every node of every graph: (B, N, D) -> (B, N, D)."""
    return bn(x.reshape(-1, x.shape[-1])).reshape(x.shape)


class GraphAttention(nn.Module):
    """Graph attention over a fully connected graph (AASIST's GAT layer, after Velickovic et al. 2018).

    Attention between nodes n, m is ``softmax_m(w . tanh(W (h_n * h_m)) / temperature)``; the output is
    ``SELU(BN(W1 (A h) + W2 h))``.

    Args:
        in_dim, out_dim: node feature widths.
        temperature: softmax temperature.
        dropout: on the input nodes.

    Shapes: (B, N, in_dim) -> (B, N, out_dim).
    """

    def __init__(self, in_dim: int, out_dim: int, temperature: float = 1.0, dropout: float = 0.2) -> None:
        super().__init__()
        self.att_proj = nn.Linear(in_dim, out_dim)
        self.att_weight = _attention_weight(out_dim)
        self.proj_with_att = nn.Linear(in_dim, out_dim)
        self.proj_without_att = nn.Linear(in_dim, out_dim)
        self.bn = nn.BatchNorm1d(out_dim)
        self.input_drop = nn.Dropout(dropout)
        self.temperature = temperature

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.input_drop(x)
        pairs = torch.tanh(self.att_proj(x.unsqueeze(2) * x.unsqueeze(1)))  # (B, N, N, out_dim)
        att = F.softmax(torch.matmul(pairs, self.att_weight).squeeze(-1) / self.temperature, dim=-1)
        x = self.proj_with_att(torch.matmul(att, x)) + self.proj_without_att(x)
        return F.selu(_batch_norm_nodes(self.bn, x))


class HeterogeneousGraphAttention(nn.Module):
    """AASIST's HS-GAL: two node types projected to one space, type-aware attention (one attention vector for
    type-1 pairs, one for type-2 pairs, one for mixed pairs) and a stack node that attends to every node.

    Args:
        in_dim, out_dim: node feature widths.
        temperature: softmax temperature.
        dropout: on the joined input nodes.

    Shapes: (B, N1, in_dim), (B, N2, in_dim), stack (B or 1, 1, in_dim) ->
        (B, N1, out_dim), (B, N2, out_dim), (B, 1, out_dim).
    """

    def __init__(self, in_dim: int, out_dim: int, temperature: float = 1.0, dropout: float = 0.2) -> None:
        super().__init__()
        self.proj_type1 = nn.Linear(in_dim, in_dim)
        self.proj_type2 = nn.Linear(in_dim, in_dim)
        self.att_proj = nn.Linear(in_dim, out_dim)
        self.att_projM = nn.Linear(in_dim, out_dim)
        self.att_weight11 = _attention_weight(out_dim)
        self.att_weight22 = _attention_weight(out_dim)
        self.att_weight12 = _attention_weight(out_dim)
        self.att_weightM = _attention_weight(out_dim)
        self.proj_with_att = nn.Linear(in_dim, out_dim)
        self.proj_without_att = nn.Linear(in_dim, out_dim)
        self.proj_with_attM = nn.Linear(in_dim, out_dim)
        self.proj_without_attM = nn.Linear(in_dim, out_dim)
        self.bn = nn.BatchNorm1d(out_dim)
        self.input_drop = nn.Dropout(dropout)
        self.temperature = temperature

    def forward(
        self, x1: torch.Tensor, x2: torch.Tensor, stack: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        n1 = x1.shape[1]
        x = self.input_drop(torch.cat([self.proj_type1(x1), self.proj_type2(x2)], dim=1))
        stack = self._update_stack(x, stack)
        pairs = torch.tanh(self.att_proj(x.unsqueeze(2) * x.unsqueeze(1)))  # (B, N, N, out_dim)
        is1 = torch.arange(x.shape[1], device=x.device) < n1
        same1, same2 = is1[:, None] & is1[None, :], ~is1[:, None] & ~is1[None, :]
        scores = torch.where(
            same1,
            torch.matmul(pairs, self.att_weight11).squeeze(-1),
            torch.where(
                same2,
                torch.matmul(pairs, self.att_weight22).squeeze(-1),
                torch.matmul(pairs, self.att_weight12).squeeze(-1),
            ),
        )
        att = F.softmax(scores / self.temperature, dim=-1)
        x = self.proj_with_att(torch.matmul(att, x)) + self.proj_without_att(x)
        x = F.selu(_batch_norm_nodes(self.bn, x))
        return x[:, :n1], x[:, n1:], stack

    def _update_stack(self, x: torch.Tensor, stack: torch.Tensor) -> torch.Tensor:
        scores = torch.matmul(torch.tanh(self.att_projM(x * stack)), self.att_weightM)  # (B, N, 1)
        att = F.softmax(scores / self.temperature, dim=-2)
        return self.proj_with_attM(torch.matmul(att.transpose(1, 2), x)) + self.proj_without_attM(stack)


class GraphPool(nn.Module):
    """Graph pooling (Gao and Ji 2019, as AASIST): nodes scaled by a sigmoid score, the top ``ratio`` kept.

    Shapes: (B, N, D) -> (B, max(int(N * ratio), 1), D).
    """

    def __init__(self, ratio: float, dim: int, dropout: float = 0.3) -> None:
        super().__init__()
        self.ratio = ratio
        self.proj = nn.Linear(dim, 1)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        scores = torch.sigmoid(self.proj(self.drop(h)))  # (B, N, 1)
        keep = max(int(h.shape[1] * self.ratio), 1)
        idx = torch.topk(scores, keep, dim=1).indices.expand(-1, -1, h.shape[-1])
        return torch.gather(h * scores, 1, idx)


class ResidualBlock2d(nn.Module):
    """AASIST's encoder block: [BN, SELU] (2x3 conv, BN, SELU, 2x3 conv) + skip (1x3 conv if widths differ), then a
    (1, 3) max-pool over time (``pool_time``; Tak et al.'s SSL-AASIST has none).

    Shapes: (B, cin, F, T) -> (B, cout, F, T // 3) (T with ``pool_time=False``).
    """

    def __init__(
        self, cin: int, cout: int, first: bool = False, faithful_release: bool = True, pool_time: bool = True
    ) -> None:
        super().__init__()
        self.pre = nn.Identity() if first else nn.Sequential(nn.BatchNorm2d(cin), nn.SELU())
        self.faithful_release = faithful_release
        self.conv1 = nn.Conv2d(cin, cout, (2, 3), padding=(1, 1))
        self.post = nn.Sequential(nn.BatchNorm2d(cout), nn.SELU(), nn.Conv2d(cout, cout, (2, 3), padding=(0, 1)))
        self.skip = nn.Identity() if cin == cout else nn.Conv2d(cin, cout, (1, 3), padding=(0, 1))
        self.pool = nn.MaxPool2d((1, 3)) if pool_time else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x if self.faithful_release else self.pre(x)
        return self.pool(self.post(self.conv1(out)) + self.skip(x))


def build_encoder(
    in_channels: int, widths: Sequence[int], faithful_release: bool = True, pool_time: bool = True
) -> nn.Sequential:
    """Residual blocks of the given output widths; the first takes ``in_channels``. Time shrinks by 3 per block
    (``pool_time``)."""
    chans = [in_channels, *(int(w) for w in widths)]
    return nn.Sequential(
        *(
            ResidualBlock2d(cin, cout, first=i == 0, faithful_release=faithful_release, pool_time=pool_time)
            for i, (cin, cout) in enumerate(zip(chans[:-1], chans[1:], strict=True))
        )
    )


class GraphBackend(nn.Module):
    """AASIST's graph part on a spectro-temporal map: node extraction, GAT, graph pooling, two HS-GAL branches, the
    max graph operation and the readout.

    Args:
        channels: C of the input map (node features).
        freq_nodes: F of the input map (one learnt positional embedding per sub-band).
        gat_dims: widths of the GAT and of the HS-GAL layers.
        pool_ratios: kept fractions: spectral graph, temporal graph, HS-GAL graphs (the release's fourth is unused).
        temperatures: spectral GAT, temporal GAT, HS-GAL (the release's fourth is unused).
        nodes: ``max`` (AASIST: max of |map| over the other axis) or ``attention`` (Tak et al. 2022's SSL-AASIST:
            softmax attention weights from two 1x1 convolutions, a weighted sum over the other axis).
        dropouts: the release's internal dropout rates: on the input nodes of every graph attention layer (0.2), on
            the graph-pooling scores (0.3) and on each branch's output before the max graph operation (0.2).

    Shapes: (B, C, F, T) -> (B, embed_dim) with ``embed_dim = 5 * gat_dims[1]``.
    """

    def __init__(
        self,
        channels: int,
        freq_nodes: int,
        gat_dims: Sequence[int] = (64, 32),
        pool_ratios: Sequence[float] = (0.5, 0.7, 0.5, 0.5),
        temperatures: Sequence[float] = (2.0, 2.0, 100.0, 100.0),
        nodes: str = "max",
        dropouts: Sequence[float] = (0.2, 0.3, 0.2),
    ) -> None:
        super().__init__()
        if nodes not in ("max", "attention"):
            raise ValueError(f"GraphBackend nodes must be 'max' or 'attention', got {nodes!r}")
        d0, d1 = (int(d) for d in gat_dims)
        p_gat, p_pool, p_way = (float(p) for p in dropouts)
        self.nodes = nodes
        if nodes == "attention":
            self.attention = nn.Sequential(
                nn.Conv2d(channels, 2 * channels, 1), nn.SELU(), nn.BatchNorm2d(2 * channels),
                nn.Conv2d(2 * channels, channels, 1),
            )  # fmt: skip
        self.pos_S = nn.Parameter(torch.randn(1, freq_nodes, channels))
        self.stack1 = nn.Parameter(torch.randn(1, 1, d0))
        self.stack2 = nn.Parameter(torch.randn(1, 1, d0))
        self.gat_S = GraphAttention(channels, d0, temperature=temperatures[0], dropout=p_gat)
        self.gat_T = GraphAttention(channels, d0, temperature=temperatures[1], dropout=p_gat)
        self.hs_gal11 = HeterogeneousGraphAttention(d0, d1, temperature=temperatures[2], dropout=p_gat)
        self.hs_gal12 = HeterogeneousGraphAttention(d1, d1, temperature=temperatures[2], dropout=p_gat)
        self.hs_gal21 = HeterogeneousGraphAttention(d0, d1, temperature=temperatures[2], dropout=p_gat)
        self.hs_gal22 = HeterogeneousGraphAttention(d1, d1, temperature=temperatures[2], dropout=p_gat)
        self.pool_S = GraphPool(pool_ratios[0], d0, p_pool)
        self.pool_T = GraphPool(pool_ratios[1], d0, p_pool)
        self.pool_hS1, self.pool_hT1 = GraphPool(pool_ratios[2], d1, p_pool), GraphPool(pool_ratios[2], d1, p_pool)
        self.pool_hS2, self.pool_hT2 = GraphPool(pool_ratios[2], d1, p_pool), GraphPool(pool_ratios[2], d1, p_pool)
        self.drop_way = nn.Dropout(p_way)
        self.embed_dim = 5 * d1

    def _node_features(self, e: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, C, F, T) -> spectral nodes (B, F, C), temporal nodes (B, T, C)."""
        if self.nodes == "max":
            e = e.abs()
            return e.amax(dim=3).transpose(1, 2), e.amax(dim=2).transpose(1, 2)
        w = self.attention(e)
        spectral = (e * F.softmax(w, dim=-1)).sum(dim=-1)
        temporal = (e * F.softmax(w, dim=-2)).sum(dim=-2)
        return spectral.transpose(1, 2), temporal.transpose(1, 2)

    def _branch(
        self, out_T: torch.Tensor, out_S: torch.Tensor, stack: torch.Tensor, first: int
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        gal_a, gal_b = (self.hs_gal11, self.hs_gal12) if first == 1 else (self.hs_gal21, self.hs_gal22)
        pool_S, pool_T = (self.pool_hS1, self.pool_hT1) if first == 1 else (self.pool_hS2, self.pool_hT2)
        t, s, stack = gal_a(out_T, out_S, stack)
        s, t = pool_S(s), pool_T(t)
        t_aug, s_aug, stack_aug = gal_b(t, s, stack)
        return t + t_aug, s + s_aug, stack + stack_aug

    def forward(self, e: torch.Tensor) -> torch.Tensor:
        spectral, temporal = self._node_features(e)
        out_S = self.pool_S(self.gat_S(spectral + self.pos_S))
        out_T = self.pool_T(self.gat_T(temporal))
        t1, s1, m1 = self._branch(out_T, out_S, self.stack1, 1)
        t2, s2, m2 = self._branch(out_T, out_S, self.stack2, 2)
        drop = self.drop_way
        t = torch.maximum(drop(t1), drop(t2))  # max graph operation
        s = torch.maximum(drop(s1), drop(s2))
        stack = torch.maximum(drop(m1), drop(m2)).expand(e.shape[0], -1, -1)
        readout = [t.abs().amax(dim=1), t.mean(dim=1), s.abs().amax(dim=1), s.mean(dim=1), stack.squeeze(1)]
        return torch.cat(readout, dim=1)


class AASIST(nn.Module):
    """AASIST / AASIST-L on raw waveforms.

    Args:
        frontend: maps (B, T) to (B, 1, T) (:class:`~dfdet.models.frontends.RawWaveform`); its ``sample_rate``
            sets the sinc filters' scale.
        sinc_channels: fixed mel-spaced sinc filters (70); the spectral graph has ``sinc_channels // 3`` nodes.
        sinc_kernel: sinc taps (the release: 128, made odd: 129).
        encoder_channels: output widths of the six residual blocks (AASIST 32, 32, 64, 64, 64, 64;
            AASIST-L 32, 32, 24, 24, 24, 24).
        gat_dims, pool_ratios, temperatures: see :class:`GraphBackend`.
        dropout: before the classifier (0.5).
        graph_dropouts: the graph part's internal dropout rates (:class:`GraphBackend`'s ``dropouts``).
        faithful_release: the release's residual block (see the module docstring).

    Shapes: (B, T) -> (B, 1) logits.
    """

    def __init__(
        self,
        frontend: nn.Module,
        sinc_channels: int = 70,
        sinc_kernel: int = 129,
        encoder_channels: Sequence[int] = (32, 32, 64, 64, 64, 64),
        gat_dims: Sequence[int] = (64, 32),
        pool_ratios: Sequence[float] = (0.5, 0.7, 0.5, 0.5),
        temperatures: Sequence[float] = (2.0, 2.0, 100.0, 100.0),
        dropout: float = 0.5,
        faithful_release: bool = True,
        graph_dropouts: Sequence[float] = (0.2, 0.3, 0.2),
    ) -> None:
        super().__init__()
        self.frontend = frontend
        sample_rate = int(getattr(frontend, "sample_rate", 16000))
        self.sinc = SincConv(
            sinc_channels, sinc_kernel, sample_rate, min_low_hz=0.0, min_band_hz=0.0, low_edge_hz=0.0, unit_gain=False
        )  # the release's fixed filter bank
        self.first_bn = nn.BatchNorm2d(1)
        self.encoder = build_encoder(1, encoder_channels, faithful_release)
        self.backend = GraphBackend(
            int(encoder_channels[-1]), sinc_channels // 3, gat_dims, pool_ratios, temperatures, "max", graph_dropouts
        )
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(self.backend.embed_dim, 1)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T) waveforms -> (B, 5 * gat_dims[1]) readouts."""
        h = self.sinc(self.frontend(x)).unsqueeze(1)  # (B, 1, sinc_channels, T)
        h = F.selu(self.first_bn(F.max_pool2d(h.abs(), 3)))
        return self.backend(self.encoder(h))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.drop(self.forward_features(x)))

    def get_classifier(self) -> nn.Module:
        """The linear classifier (timm's interface, for :mod:`dfdet.models.tuning`)."""
        return self.head
