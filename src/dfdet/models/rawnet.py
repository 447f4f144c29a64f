"""RawNet2 (Tak et al. 2021, the ASVspoof 2021 raw-waveform baseline): sinc filters, residual blocks, a GRU.

Waveform (B, T) -> fixed band-pass sinc filters (mel-spaced, |.|, max-pool) -> residual blocks with filter-wise
feature map scaling (FMS) and max-pooling -> GRU over the remaining frames -> last state -> linear -> fake logit.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dfdet.data.audio.dsp import hz_to_mel, mel_to_hz


class SincConv(nn.Module):
    """Band-pass filters with sinc impulse responses (Ravanelli and Bengio 2018), mel-spaced band edges.

    Args:
        out_channels: number of band-pass filters.
        kernel_size: filter length in samples (odd).
        sample_rate: of the input, Hz.
        min_low_hz, min_band_hz: lowest edge and narrowest band.
        learnable: learn the band edges (SincNet); RawNet2 for anti-spoofing keeps them fixed.
        low_edge_hz: the first band's lower edge; the edges are evenly spaced in mel from it to the Nyquist frequency
            (SincNet: 30 Hz; the RawNet2 / AASIST releases: 0).
        unit_gain: scale each filter to a centre tap of 1 (SincNet). False: the ideal band-pass
            ``2 f2 / sr sinc(2 f2 n / sr) - 2 f1 / sr sinc(2 f1 n / sr)`` (pass-band gain 1), as the RawNet2 and
            AASIST releases build their fixed filters (``CONV`` in clovaai/aasist ``models/AASIST.py``): a narrow
            band then gives a weaker output, which matters where one batch norm spans all bands (AASIST).

    Shapes: (B, 1, T) -> (B, out_channels, T) ("same" padding).
    """

    n: torch.Tensor
    window: torch.Tensor

    def __init__(
        self,
        out_channels: int = 20,
        kernel_size: int = 129,
        sample_rate: int = 16000,
        min_low_hz: float = 0.0,
        min_band_hz: float = 50.0,
        learnable: bool = False,
        low_edge_hz: float = 30.0,
        unit_gain: bool = True,
    ) -> None:
        super().__init__()
        if kernel_size % 2 == 0:
            raise ValueError(f"SincConv kernel_size must be odd, got {kernel_size}")
        self.kernel_size, self.sample_rate = kernel_size, sample_rate
        self.min_low_hz, self.min_band_hz = min_low_hz, min_band_hz
        self.unit_gain = unit_gain
        top = hz_to_mel(sample_rate / 2 - min_band_hz)
        edges = mel_to_hz(np.linspace(hz_to_mel(low_edge_hz), top, out_channels + 1))
        low = torch.tensor(edges[:-1], dtype=torch.float32).unsqueeze(1)
        band = torch.tensor(np.diff(edges), dtype=torch.float32).unsqueeze(1)
        half = (kernel_size - 1) // 2
        self.register_buffer("n", 2 * np.pi * torch.arange(-half, half + 1, dtype=torch.float32) / sample_rate)
        self.register_buffer("window", torch.hamming_window(kernel_size, periodic=False))
        if learnable:
            self.low_hz, self.band_hz = nn.Parameter(low), nn.Parameter(band)
        else:
            self.register_buffer("low_hz", low)
            self.register_buffer("band_hz", band)

    def filters(self) -> torch.Tensor:
        """The current filters, (out_channels, 1, kernel_size): unit centre tap, or pass-band gain 1 (``unit_gain``)."""
        low = self.min_low_hz + self.low_hz.abs()
        high = torch.clamp(low + self.min_band_hz + self.band_hz.abs(), max=self.sample_rate / 2)
        n = self.n.unsqueeze(0)
        safe_n = torch.where(n == 0, torch.ones_like(n), n)
        band_pass = (torch.sin(high * safe_n) - torch.sin(low * safe_n)) / (safe_n / 2)
        centre = 2 * (high - low)
        band_pass = torch.where(n == 0, centre.expand_as(band_pass), band_pass)
        band_pass = band_pass / (2 * (high - low)) if self.unit_gain else band_pass / self.sample_rate
        return (band_pass * self.window).unsqueeze(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv1d(x, self.filters(), padding=self.kernel_size // 2)


class ResidualBlock(nn.Module):
    """Two 3-tap convolutions with batch norm and LeakyReLU, a residual path, max-pool 3 and FMS.

    Shapes: (B, cin, T) -> (B, cout, T // 3).
    """

    def __init__(self, cin: int, cout: int, first: bool = False) -> None:
        super().__init__()
        self.pre = nn.Identity() if first else nn.Sequential(nn.BatchNorm1d(cin), nn.LeakyReLU(0.3))
        self.conv1 = nn.Conv1d(cin, cout, 3, padding=1)
        self.post = nn.Sequential(nn.BatchNorm1d(cout), nn.LeakyReLU(0.3), nn.Conv1d(cout, cout, 3, padding=1))
        self.skip = nn.Identity() if cin == cout else nn.Conv1d(cin, cout, 1)
        self.pool = nn.MaxPool1d(3)
        self.fms = nn.Linear(cout, cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.post(self.conv1(self.pre(x))) + self.skip(x)
        out = self.pool(out)
        scale = torch.sigmoid(self.fms(out.mean(dim=-1))).unsqueeze(-1)  # filter-wise feature map scaling
        return out * scale + scale


class RawNet2(nn.Module):
    """RawNet2 for spoofing detection on raw waveforms.

    Args:
        frontend: maps (B, T) to (B, 1, T) (e.g. :class:`~dfdet.models.frontends.RawWaveform`); its
            ``sample_rate`` sets the sinc filters' scale.
        sinc_channels: number of sinc band-pass filters (20 in the paper).
        sinc_kernel: sinc filter length in samples (1024 in the paper; odd).
        learnable_sinc: learn the sinc band edges.
        block_channels: widths of the residual blocks (paper: 20, 20, 128, 128, 128, 128); each divides time by 3.
        gru_hidden: GRU width (1024 in the paper).
        gru_layers: stacked GRU layers.

    Shapes: (B, T) -> (B, 1) logits.
    """

    def __init__(
        self,
        frontend: nn.Module,
        sinc_channels: int = 20,
        sinc_kernel: int = 129,
        learnable_sinc: bool = False,
        block_channels: Sequence[int] = (20, 20, 64, 64, 64, 64),
        gru_hidden: int = 128,
        gru_layers: int = 1,
    ) -> None:
        super().__init__()
        self.frontend = frontend
        sample_rate = int(getattr(frontend, "sample_rate", 16000))
        self.sinc = SincConv(sinc_channels, sinc_kernel, sample_rate, learnable=learnable_sinc)
        self.sinc_post = nn.Sequential(nn.MaxPool1d(3), nn.BatchNorm1d(sinc_channels), nn.SELU())
        widths = [sinc_channels, *(int(c) for c in block_channels)]
        self.blocks = nn.Sequential(
            *(
                ResidualBlock(cin, cout, first=i == 0)
                for i, (cin, cout) in enumerate(zip(widths[:-1], widths[1:], strict=True))
            )
        )
        self.pre_gru = nn.Sequential(nn.BatchNorm1d(widths[-1]), nn.LeakyReLU(0.3))
        self.gru = nn.GRU(widths[-1], gru_hidden, num_layers=gru_layers, batch_first=True)
        self.head = nn.Linear(gru_hidden, 1)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T) waveforms -> (B, gru_hidden) utterance embeddings (the GRU's last output)."""
        h = self.sinc_post(self.sinc(self.frontend(x)).abs())
        h = self.pre_gru(self.blocks(h)).transpose(1, 2)  # (B, frames, C)
        out, _ = self.gru(h)
        return out[:, -1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(x))
