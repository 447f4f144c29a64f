"""Audio front-ends in torch: waveform batches (B, T) in, feature maps out, differentiable and exportable.

The STFT is a strided 1-D convolution with a fixed windowed DFT basis (a buffer), so a front-end lives inside the
network and exports to ONNX or TorchScript as plain convolutions; it matches ``torch.stft(center=True,
pad_mode="constant")`` with a periodic Hann window of ``win_length`` samples (tested).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from dfdet.data.audio.dsp import dct_matrix, linear_filterbank, mel_filterbank


class PowerSpectrogram(nn.Module):
    """|STFT|^2 by convolution with a windowed DFT basis.

    Args:
        n_fft: FFT size; ``n_fft // 2 + 1`` frequency bins.
        win_length: Hann window length in samples (<= ``n_fft``; centred in the FFT frame).
        hop_length: hop in samples.

    Shapes: (B, T) -> (B, n_fft // 2 + 1, 1 + T // hop_length).
    """

    basis: torch.Tensor

    def __init__(self, n_fft: int = 512, win_length: int = 320, hop_length: int = 160) -> None:
        super().__init__()
        if win_length > n_fft:
            raise ValueError(f"win_length ({win_length}) must be <= n_fft ({n_fft})")
        self.n_fft, self.hop_length = n_fft, hop_length
        window = np.zeros(n_fft)
        left = (n_fft - win_length) // 2
        window[left : left + win_length] = np.hanning(win_length + 1)[:-1]
        k = np.arange(n_fft // 2 + 1)[:, None]
        n = np.arange(n_fft)[None]
        angle = 2 * np.pi * k * n / n_fft
        basis = np.concatenate([np.cos(angle) * window, -np.sin(angle) * window])[:, None, :]
        nonzero = slice(left, left + win_length)  # zero taps of the window are dropped from the kernel
        self.offset = left
        self.register_buffer("basis", torch.tensor(basis[..., nonzero], dtype=torch.float32), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pad = self.n_fft // 2
        x = F.pad(x.unsqueeze(1), (pad, pad))
        length = x.shape[-1] - self.n_fft + 1  # frames start at every hop up to here, as torch.stft
        x = x[..., self.offset : self.offset + length + self.basis.shape[-1] - 1]
        out = F.conv1d(x, self.basis, stride=self.hop_length)
        real, imag = out.chunk(2, dim=1)
        return real.square() + imag.square()


def _delta_kernel(channels: int, width: int = 2) -> torch.Tensor:
    """HTK regression weights ``n / sum(n^2)`` for ``n = -width..width`` as a depthwise kernel (channels, 1, 2w+1)."""
    n = torch.arange(-width, width + 1, dtype=torch.float32)
    return (n / n.square().sum()).flip(0).expand(channels, 1, -1).contiguous()


def _deltas(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Regression deltas along the last (time) axis with edge padding: (B, C, T) -> (B, C, T)."""
    width = kernel.shape[-1] // 2
    return F.conv1d(F.pad(x, (width, width), mode="replicate"), kernel, groups=kernel.shape[0])


def _normalise(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Per-utterance mean and variance normalisation of each feature over time: (B, C, T)."""
    return (x - x.mean(dim=-1, keepdim=True)) / (x.std(dim=-1, keepdim=True) + eps)


class LogMel(nn.Module):
    """Log mel spectrogram.

    Args:
        sample_rate: of the input, Hz.
        n_mels: mel bands (HTK scale).
        n_fft, win_length, hop_length: STFT (defaults: 32 ms FFT, 25 ms window, 10 ms hop at 16 kHz).
        f_min, f_max: filterbank range in Hz (``f_max`` None: Nyquist).
        normalise: per-utterance mean/variance normalisation of each band.

    Shapes: (B, T) -> (B, 1, n_mels, 1 + T // hop_length).
    """

    filters: torch.Tensor

    def __init__(
        self,
        sample_rate: int = 16000,
        n_mels: int = 80,
        n_fft: int = 512,
        win_length: int = 400,
        hop_length: int = 160,
        f_min: float = 20.0,
        f_max: float | None = None,
        normalise: bool = True,
    ) -> None:
        super().__init__()
        self.sample_rate = sample_rate
        self.spectrogram = PowerSpectrogram(n_fft, win_length, hop_length)
        self.register_buffer(
            "filters", torch.tensor(mel_filterbank(n_mels, n_fft, sample_rate, f_min, f_max)), persistent=False
        )
        self.normalise = normalise

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mel = torch.matmul(self.filters, self.spectrogram(x))
        out = torch.log(mel + 1e-6)
        return (_normalise(out) if self.normalise else out).unsqueeze(1)


class LFCC(nn.Module):
    """Linear-frequency cepstral coefficients with deltas, as the ASVspoof 2019 baseline (Todisco et al. 2019).

    Power spectrum, ``n_filters`` linearly spaced triangular filters, log, DCT-II to ``n_ceps`` coefficients, then
    deltas and delta-deltas (``with_deltas``).

    Args:
        sample_rate: of the input, Hz.
        n_filters: linear filters (20 in the baseline).
        n_ceps: cepstral coefficients kept (20, including c0).
        n_fft, win_length, hop_length: STFT (baseline: 512-point FFT, 20 ms window, 10 ms hop at 16 kHz).
        with_deltas: append deltas and delta-deltas (3 * ``n_ceps`` features).
        normalise: per-utterance mean/variance normalisation of each coefficient.

    Shapes: (B, T) -> (B, 1, n_features, 1 + T // hop_length), ``n_features = n_ceps * (3 if with_deltas else 1)``.
    """

    filters: torch.Tensor
    dct: torch.Tensor
    delta_kernel: torch.Tensor

    def __init__(
        self,
        sample_rate: int = 16000,
        n_filters: int = 20,
        n_ceps: int = 20,
        n_fft: int = 512,
        win_length: int = 320,
        hop_length: int = 160,
        with_deltas: bool = True,
        normalise: bool = True,
    ) -> None:
        super().__init__()
        self.sample_rate = sample_rate
        self.spectrogram = PowerSpectrogram(n_fft, win_length, hop_length)
        self.register_buffer(
            "filters", torch.tensor(linear_filterbank(n_filters, n_fft, sample_rate)), persistent=False
        )
        self.register_buffer("dct", torch.tensor(dct_matrix(n_filters, n_ceps)), persistent=False)
        self.register_buffer("delta_kernel", _delta_kernel(n_ceps), persistent=False)
        self.with_deltas = with_deltas
        self.normalise = normalise

    @property
    def n_features(self) -> int:
        return self.dct.shape[0] * (3 if self.with_deltas else 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        energies = torch.matmul(self.filters, self.spectrogram(x))
        ceps = torch.matmul(self.dct, torch.log(energies + 1e-6))
        if self.with_deltas:
            delta = _deltas(ceps, self.delta_kernel)
            ceps = torch.cat([ceps, delta, _deltas(delta, self.delta_kernel)], dim=1)
        return (_normalise(ceps) if self.normalise else ceps).unsqueeze(1)


class RawWaveform(nn.Module):
    """The waveform itself, optionally pre-emphasised and scaled to unit RMS per utterance.

    Args:
        sample_rate: of the input, Hz (recorded for the models that need it, e.g. sinc filters).
        pre_emphasis: coefficient of ``x[t] - a * x[t - 1]`` (0 disables it).
        normalise: divide each utterance by its RMS.

    Shapes: (B, T) -> (B, 1, T).
    """

    def __init__(self, sample_rate: int = 16000, pre_emphasis: float = 0.0, normalise: bool = True) -> None:
        super().__init__()
        self.sample_rate = sample_rate
        self.pre_emphasis = pre_emphasis
        self.normalise = normalise

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pre_emphasis:
            x = torch.cat([x[:, :1], x[:, 1:] - self.pre_emphasis * x[:, :-1]], dim=1)
        if self.normalise:
            x = x / (x.square().mean(dim=1, keepdim=True).sqrt() + 1e-5)
        return x.unsqueeze(1)
