"""RawBoost, codec, resampling, room and noise augmentation: deterministic for a seed, each changing the signal by
the expected amount; wired through audio_augment=... into the training datamodule, reseeded per worker."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hydra.utils import instantiate
from scipy import signal

from dfdet.data.audio.codecs import codec_roundtrip
from dfdet.errors import ConfigValueError, DatasetNotFoundError
from dfdet.transforms.audio import AddNoise, AudioAugment, CodecAugment, ResampleAugment, RoomReverb
from dfdet.transforms.rawboost import RawBoost, isd_additive_noise, lnl_convolutive_noise, ssi_additive_noise

SR = 16000


def speech_like(seconds: float = 1.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    x = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((180, 360, 540, 1250, 2600), start=1))
    return (0.2 * x * (1 + 0.5 * np.sin(2 * np.pi * 4 * t)) + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


def snr_db(clean: np.ndarray, noisy: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(clean.astype(np.float64) ** 2) / np.sum((noisy - clean) ** 2)))


@pytest.mark.parametrize("algo", range(1, 9))
def test_rawboost_is_deterministic_for_a_seed_and_changes_the_signal(algo: int) -> None:
    x = speech_like()
    boost = RawBoost(algo=algo)
    a, b = boost(x, np.random.default_rng(7)), boost(x, np.random.default_rng(7))
    assert a.dtype == np.float32 and a.shape == x.shape and np.array_equal(a, b)
    assert not np.array_equal(a, boost(x, np.random.default_rng(8)))
    assert not np.allclose(a, x, atol=1e-4)
    if algo in (1, 2, 5, 8):  # ending with LnL or ISD: peak-limited to 1 (SSI adds noise after; AudioAugment clips)
        assert np.abs(a).max() <= 1.0 + 1e-6


def test_ssi_noise_lands_in_its_snr_range() -> None:
    x = speech_like().astype(np.float64)
    for seed in range(5):
        y = ssi_additive_noise(x, np.random.default_rng(seed), SR, snr_min=15.0, snr_max=25.0)
        assert 15.0 - 1e-6 <= snr_db(x, y) <= 25.0 + 1e-6


def test_isd_noise_touches_at_most_p_percent_of_samples_in_proportion() -> None:
    x = speech_like().astype(np.float64)
    y = isd_additive_noise(x, np.random.default_rng(3), p=10.0, g_sd=2.0)
    changed = np.flatnonzero(~np.isclose(y, x))
    assert 0 < len(changed) <= 0.10 * len(x)
    ratio = (y[changed] - x[changed]) / x[changed]
    assert np.abs(ratio).max() <= 2.0 + 1e-9  # g_sd * x * f_r with |f_r| <= 1


def test_lnl_is_a_filtered_sum_of_powers() -> None:
    x = speech_like().astype(np.float64)
    y = lnl_convolutive_noise(x, np.random.default_rng(0), SR, n_f=1)  # linear only: a filter, zero mean
    assert abs(y.mean()) < 1e-9 and np.abs(y).max() <= 1.0
    # a linear filter's output correlates with a linear filtering of x; the spectrum is reshaped, not replaced
    _, px = signal.welch(x, SR, nperseg=512)
    _, py = signal.welch(y, SR, nperseg=512)
    assert not np.allclose(px / px.sum(), py / py.sum(), rtol=0.2)


@pytest.mark.parametrize("codec", ["mp3", "aac", "opus"])
def test_codec_roundtrip_is_aligned_and_loses_more_at_low_bitrates(codec: str) -> None:
    x = speech_like(1.0)
    high, low = codec_roundtrip(x, SR, codec, 96000), codec_roundtrip(x, SR, codec, 16000)
    assert high.shape == x.shape == low.shape and high.dtype == np.float32
    assert snr_db(x, high) > 8.0  # time-aligned: a misaligned copy would be near or below 0 dB
    assert snr_db(x, high) > snr_db(x, low)
    assert np.array_equal(codec_roundtrip(x, SR, codec, 32000), codec_roundtrip(x, SR, codec, 32000))
    with pytest.raises(ConfigValueError, match="unknown audio codec"):
        codec_roundtrip(x, SR, "flac2", 32000)


def test_codec_augment_and_resampling_remove_the_top_band() -> None:
    t = np.arange(SR) / SR
    x = (0.3 * np.sin(2 * np.pi * 500 * t) + 0.3 * np.sin(2 * np.pi * 6000 * t)).astype(np.float32)
    y = ResampleAugment(SR, rates=[8000], prob=1.0)(x, np.random.default_rng(0))
    spec_x, spec_y = np.abs(np.fft.rfft(x)), np.abs(np.fft.rfft(y))
    assert spec_y[6000] < 0.01 * spec_x[6000] and spec_y[500] > 0.9 * spec_x[500]
    coded = CodecAugment(SR, codecs=["mp3"], bitrates=[32000], prob=1.0)(speech_like(), np.random.default_rng(0))
    assert coded.shape == (SR,) and not np.array_equal(coded, speech_like())
    assert CodecAugment(SR, prob=0.0)(x, np.random.default_rng(0)) is x


def test_rooms_and_noise_synthetic_or_from_folders(tmp_path: Path) -> None:
    x = speech_like()
    wet = RoomReverb(SR, rt60=[0.5, 0.5], prob=1.0)(x, np.random.default_rng(0))
    assert wet.shape == x.shape and 0.0 < snr_db(x, wet) < 30.0
    noisy = AddNoise(SR, snr_db=[10.0, 10.0], prob=1.0)(x, np.random.default_rng(0))
    assert snr_db(x, noisy) == pytest.approx(10.0, abs=0.01)
    (tmp_path / "rirs").mkdir()
    (tmp_path / "noise" / "music").mkdir(parents=True)
    impulse = np.zeros(800, dtype=np.float32)
    impulse[100] = 0.5  # a pure delay: after alignment to the direct path, the identity
    sf.write(tmp_path / "rirs" / "room.wav", impulse, SR)
    sf.write(tmp_path / "noise" / "music" / "hum.flac", 0.1 * np.sin(2 * np.pi * 50 * np.arange(4000) / SR), SR)
    same = RoomReverb(SR, rir_dir=str(tmp_path / "rirs"), prob=1.0)(x, np.random.default_rng(0))
    assert np.allclose(same, x, atol=1e-4)
    hum = AddNoise(SR, noise_dir=str(tmp_path / "noise"), snr_db=[20.0, 20.0], prob=1.0)(x, np.random.default_rng(1))
    assert snr_db(x, hum) == pytest.approx(20.0, abs=0.01)
    with pytest.raises(DatasetNotFoundError, match="no audio files"):
        AddNoise(SR, noise_dir=str(tmp_path / "rirs_missing"))


@pytest.mark.parametrize("option", ["rawboost", "codec", "full"])
def test_audio_augment_configs_reach_the_training_data(compose_cfg, option: str) -> None:
    cfg = compose_cfg("train", ["data=synthetic_audio", "model=lcnn", f"audio_augment={option}"])
    augment = instantiate(cfg.data.train_transform)
    assert isinstance(augment, AudioAugment) and all(callable(step) for step in augment.steps)
    x = speech_like()
    a, b = augment(x, np.random.default_rng(0)), augment(x, np.random.default_rng(0))
    assert np.array_equal(a, b) and a.shape == x.shape
    assert compose_cfg("train", ["data=synthetic_audio", "model=lcnn"]).data.train_transform is None  # default off


def test_workers_draw_different_augmentations(compose_cfg, tmp_path: Path) -> None:
    """The training dataset's generator is reseeded per worker (seed_worker): two workers augment differently, the
    same worker seed the same way."""
    import pandas as pd

    from dfdet.data.datasets import AudioDataset

    sf.write(tmp_path / "a.wav", speech_like(), SR)
    cfg = compose_cfg("train", ["data=synthetic_audio", "model=lcnn", "audio_augment=rawboost"])
    rows = pd.DataFrame({"path": [str(tmp_path / "a.wav")], "label": [0]})
    dataset = AudioDataset(rows, np.zeros(1, dtype=np.int64), 8000, SR, np.random.default_rng(0),
                           instantiate(cfg.data.train_transform))  # fmt: skip
    dataset.reseed(1)
    first = dataset[0]["audio"].numpy()
    dataset.reseed(2)
    second = dataset[0]["audio"].numpy()
    dataset.reseed(1)
    assert np.array_equal(dataset[0]["audio"].numpy(), first) and not np.array_equal(first, second)
