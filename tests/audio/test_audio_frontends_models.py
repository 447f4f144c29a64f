"""Front-ends against torch.stft and numpy references; models' shapes, gradients and length independence."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dfdet.data.audio.dsp import dct_matrix, istft, linear_filterbank, mel_filterbank, stft
from dfdet.models.aasist import AASIST
from dfdet.models.audio import LCNN, MaxFeatureMap, build_spectrogram_classifier
from dfdet.models.frontends import LFCC, LogMel, PowerSpectrogram, RawWaveform
from dfdet.models.rawnet import RawNet2, SincConv


@pytest.mark.parametrize(("n_fft", "win", "hop"), [(512, 320, 160), (512, 512, 128), (256, 200, 80)])
def test_power_spectrogram_matches_torch_stft(n_fft: int, win: int, hop: int) -> None:
    x = torch.randn(2, 4000)
    ours = PowerSpectrogram(n_fft, win, hop)(x)
    ref = (
        torch.stft(
            x, n_fft, hop, win, window=torch.hann_window(win), center=True, pad_mode="constant", return_complex=True
        ).abs()
        ** 2
    )
    assert ours.shape == ref.shape
    assert torch.allclose(ours, ref, atol=1e-3 * ref.max().item())


def test_numpy_stft_roundtrip_and_filterbanks() -> None:
    x = np.random.default_rng(0).standard_normal(3000)
    assert np.allclose(istft(stft(x, 512, 128), 512, 128, len(x)), x, atol=1e-9)
    dct = dct_matrix(20, 20)
    assert np.allclose(dct @ dct.T, np.eye(20), atol=1e-5)
    lin, mel = linear_filterbank(20, 512, 16000), mel_filterbank(40, 512, 16000)
    assert lin.shape == (20, 257) and mel.shape == (40, 257)
    assert np.allclose(lin.max(axis=1), 1.0, atol=0.05)  # peaks land on (or next to) a bin
    assert (np.diff(lin.argmax(axis=1)) > 0).all() and (np.diff(mel.argmax(axis=1)) >= 0).all()


@pytest.mark.parametrize(
    ("frontend", "shape"),
    [
        (LFCC(), (3, 1, 60, 51)),
        (LFCC(with_deltas=False), (3, 1, 20, 51)),
        (LogMel(n_mels=40), (3, 1, 40, 51)),
        (RawWaveform(pre_emphasis=0.97), (3, 1, 8000)),
    ],
)
def test_frontend_shapes_and_gradients(frontend: torch.nn.Module, shape: tuple[int, ...]) -> None:
    x = (0.1 * torch.randn(3, 8000)).requires_grad_()
    out = frontend(x)
    assert out.shape == shape and torch.isfinite(out).all()
    out.square().mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_lfcc_normalisation_removes_level() -> None:
    x = 0.1 * torch.randn(1, 8000)
    assert torch.allclose(LFCC()(x), LFCC()(10 * x), atol=1e-3)


def test_max_feature_map() -> None:
    x = torch.tensor([[1.0, -2.0, 3.0, 0.0]])
    assert MaxFeatureMap(dim=-1)(x).tolist() == [[3.0, 0.0]]


def test_sinc_filters_are_band_pass() -> None:
    sinc = SincConv(out_channels=8, kernel_size=129)
    gains = torch.fft.rfft(sinc.filters().squeeze(1), n=1024).abs()
    peaks = gains.argmax(dim=1)
    assert (peaks[1:] >= peaks[:-1]).all()  # mel-ordered pass bands
    assert SincConv(8, 129, learnable=True).low_hz.requires_grad


def test_aasist_filter_bank_is_the_releases() -> None:
    """AASIST's fixed filters against the release's construction, written out by hand: 70 bands with edges evenly
    spaced in HTK mel from 0 Hz to 8 kHz, each ``(2 f2 / sr) sinc(2 f2 n / sr) - (2 f1 / sr) sinc(2 f1 n / sr)`` times
    a 129-tap Hamming window."""
    mel = np.linspace(0.0, 2595 * np.log10(1 + 8000 / 700), 71)
    edges = 700 * (10 ** (mel / 2595) - 1)
    n, sr = np.arange(-64, 65), 16000
    ideal = [2 * f2 / sr * np.sinc(2 * f2 * n / sr) - 2 * f1 / sr * np.sinc(2 * f1 * n / sr)
             for f1, f2 in zip(edges[:-1], edges[1:], strict=True)]  # fmt: skip
    expected = torch.tensor(np.hamming(129) * np.stack(ideal), dtype=torch.float32)
    actual = AASIST(RawWaveform(), encoder_channels=(4, 4)).sinc.filters().squeeze(1)
    torch.testing.assert_close(actual, expected, atol=1e-6, rtol=1e-4)


@pytest.mark.parametrize(
    "build",
    [
        lambda: LCNN(LFCC(), channels=(4, 6, 8, 4, 4), embedding=8),
        lambda: LCNN(LogMel(n_mels=48), channels=(4, 6, 8, 4, 4), embedding=8),
        lambda: RawNet2(RawWaveform(), sinc_channels=8, block_channels=(8, 8, 16, 16), gru_hidden=16),
        lambda: build_spectrogram_classifier(LogMel(n_mels=64), "test_resnet"),
    ],
    ids=["lcnn_lfcc", "lcnn_logmel", "rawnet2", "timm_test_resnet"],
)
def test_models_shapes_gradients_and_any_length(build) -> None:
    torch.manual_seed(0)
    net = build()
    x = 0.1 * torch.randn(2, 8000)
    logits = net(x)
    assert logits.shape == (2, 1)
    logits.sum().backward()
    grads = [p.grad for p in net.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert net.eval()(0.1 * torch.randn(1, 12000)).shape == (1, 1)
