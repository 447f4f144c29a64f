"""Each distortion is deterministic for a seed and changes its input by the expected amount."""

from __future__ import annotations

import numpy as np
import pytest

from dfdet.data.audio import codecs
from dfdet.perturb import audio, images, video
from dfdet.perturb.registry import DISTORTIONS, Setting, build_settings, item_rng


def _to_ycc(image: np.ndarray) -> np.ndarray:
    """The reference conversion: RGB uint8 to YCbCr on [0, 1], chroma centred on 0."""
    return (image.astype(np.float32) / 255.0) @ images._RGB2YCC.T


def _from_ycc(ycc: np.ndarray) -> np.ndarray:
    return np.clip((ycc @ images._YCC2RGB.T) * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _photo(size: int = 96, seed: int = 0) -> np.ndarray:
    """A smooth colourful image with some texture (JPEG and blur act on it as on a photo)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    base = np.stack([0.5 + 0.4 * np.sin(6 * x), 0.5 + 0.3 * np.cos(5 * y), 0.4 + 0.3 * x * y], -1)
    return np.clip((base + rng.normal(0, 0.03, base.shape)) * 255, 0, 255).astype(np.uint8)


def _speech_like(sr: int = 16000, seconds: float = 1.0) -> np.ndarray:
    t = np.arange(int(sr * seconds)) / sr
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t)
    return (0.3 * env * (np.sin(2 * np.pi * 220 * t) + 0.5 * np.sin(2 * np.pi * 1330 * t))).astype(np.float32)


@pytest.mark.parametrize("setting", build_settings("image"), ids=lambda s: s.name)
def test_image_settings_are_deterministic_and_change_the_image(setting: Setting) -> None:
    image = _photo()
    a = setting.apply(image, item_rng(7, setting, 3))
    b = setting.apply(image, item_rng(7, setting, 3))
    assert a.dtype == np.uint8 and a.ndim == 3 and np.array_equal(a, b)
    if setting.distortion != "resize":
        assert a.shape == image.shape
        assert np.abs(a.astype(int) - image).mean() > 0.1, "the distortion left the image unchanged"


def test_random_distortions_differ_per_item_and_seed() -> None:
    image = _photo()
    noise = Setting("GNC", 3, 0.005)
    assert not np.array_equal(noise.apply(image, item_rng(0, noise, 1)), noise.apply(image, item_rng(0, noise, 2)))
    assert not np.array_equal(noise.apply(image, item_rng(0, noise, 1)), noise.apply(image, item_rng(1, noise, 1)))


def test_deeperforensics_levels_grow_worse() -> None:
    image = _photo(128)
    rng = np.random.default_rng(0)
    for name in ("CS", "CC", "BW", "GNC", "GB", "JPEG"):
        errors = [np.abs(Setting(name, i, p).apply(image, rng).astype(float) - image).mean()
                  for i, p in enumerate(DISTORTIONS[name].levels, 1)]  # fmt: skip
        assert all(b >= a - 1e-6 for a, b in zip(errors, errors[1:], strict=False)), (name, errors)


def test_saturation_zero_is_grey_and_contrast_scales_values() -> None:
    image = _photo()
    grey = images.color_saturation(image, 0.0)
    assert np.abs(grey[..., 0].astype(int) - grey[..., 1]).max() <= 1
    assert np.abs(images.color_saturation(image, 1.0).astype(int) - image).max() <= 1
    ycc = _to_ycc(image)
    ycc[..., 1:] *= 0.3  # converted, chroma scaled, converted back
    assert np.abs(images.color_saturation(image, 0.3).astype(int) - _from_ycc(ycc)).max() <= 1
    assert np.allclose(images.color_contrast(image, 0.5), (image * 0.5).astype(np.uint8), atol=1)


def test_block_wise_occludes_the_asked_number_of_blocks() -> None:
    image = np.zeros((200, 200, 3), np.uint8)
    out = images.block_wise(image, 16, np.random.default_rng(0))
    covered = (out == 128).all(-1).sum()
    assert 64 < covered <= 16 * 64  # 16 blocks of 8x8 (overlaps allowed)


def test_gaussian_noise_has_the_asked_variance() -> None:
    image = np.full((128, 128, 3), 128, np.uint8)
    out = images.gaussian_noise_color(image, 0.001, np.random.default_rng(0))
    luma = _to_ycc(out)[..., 0] - _to_ycc(image)[..., 0]
    assert luma.std() == pytest.approx(np.sqrt(0.001), rel=0.1)


def test_gaussian_noise_is_the_noise_added_in_ycbcr() -> None:
    image = _photo(64)
    out = images.gaussian_noise_color(image, 0.01, np.random.default_rng(5))
    noise = images.standard_normal(np.random.default_rng(5), (64, 64, 3)) * np.float32(0.1)
    by_conversion = _from_ycc(_to_ycc(image) + noise)  # converted, noised, converted back
    assert np.abs(out.astype(int) - by_conversion).max() <= 1


def test_box_muller_normals_are_standard_normal() -> None:
    from scipy.stats import kstest

    values = images.standard_normal(np.random.default_rng(0), (200, 301))  # odd count: the last pair half used
    assert values.shape == (200, 301) and values.dtype == np.float32
    assert kstest(values.ravel(), "norm").pvalue > 0.01
    assert abs(float(np.corrcoef(values.ravel()[:-1], values.ravel()[1:])[0, 1])) < 0.01
    again = images.standard_normal(np.random.default_rng(0), (200, 301))
    assert np.array_equal(values, again) and not np.array_equal(
        values, images.standard_normal(np.random.default_rng(1), (200, 301))
    )


def test_jpeg_quality_is_monotone_in_file_size() -> None:
    image = _photo(128)
    sizes = [len(images.jpeg_bytes(image, q)) for q in (95, 75, 50, 30, 10)]
    assert sizes == sorted(sizes, reverse=True) and sizes[0] > 2 * sizes[-1]
    errors = [np.abs(images.jpeg(image, q).astype(int) - image).mean() for q in (95, 50, 10)]
    assert errors == sorted(errors)


def test_resize_scales_and_upscales() -> None:
    image = _photo(64)
    assert images.resize(image, 0.5).shape == (32, 32, 3) and images.resize(image, 2.0).shape == (128, 128, 3)
    assert images.social_media(_photo(64), 1).shape == (64, 64, 3)


def test_h264_crf_is_monotone_in_bitrate_and_error() -> None:
    frames = np.stack([np.roll(_photo(64), 2 * t, axis=1) for t in range(6)])
    sizes = [len(video.h264_encode(frames, crf)) for crf in (18, 28, 38, 48)]
    assert sizes == sorted(sizes, reverse=True)
    errors = [np.abs(video.h264_roundtrip(frames, crf).astype(int) - frames).mean() for crf in (18, 38, 48)]
    assert errors == sorted(errors)
    odd = _photo(63)[:, :61]
    assert video.h264_roundtrip(odd, 30).shape == odd.shape
    # the in-memory round trip (encoder packets straight to a decoder) gives the pictures of the MP4 file
    for clip in (frames, odd, frames[0]):
        stack = clip[None] if clip.ndim == 3 else clip
        via_file = video.decode_frames(video.h264_encode(stack, 35))[:, : stack.shape[1], : stack.shape[2]]
        assert np.array_equal(video.h264_roundtrip(stack, 35), via_file)


@pytest.mark.parametrize("codec", sorted(codecs.CODECS))
def test_codecs_bitrate_is_monotone_and_keeps_length(codec: str) -> None:
    wave = _speech_like()
    rates = DISTORTIONS[codec].levels
    sizes = [codecs.encoded_size(wave, 16000, codec, k * 1000) for k in rates]
    assert sizes == sorted(sizes, reverse=True), sizes
    out = codecs.codec_roundtrip(wave, 16000, codec, rates[0] * 1000)
    assert out.shape == wave.shape and out.dtype == np.float32
    snr = 10 * np.log10(np.sum(wave**2) / np.sum((out - wave) ** 2))
    assert snr > 5, f"{codec} at {rates[0]} kbit/s is misaligned or broken (SNR {snr:.1f} dB)"


def test_noise_has_the_asked_snr_and_narrowband_removes_the_high_band() -> None:
    wave = _speech_like()
    for snr in (20.0, 5.0):
        noisy = audio.add_noise(wave, snr, np.random.default_rng(0))
        measured = 10 * np.log10(np.mean(wave**2) / np.mean((noisy - wave) ** 2))
        assert measured == pytest.approx(snr, abs=0.3)
    t = np.arange(16000) / 16000
    high = np.sin(2 * np.pi * 6000 * t).astype(np.float32)
    assert np.sqrt(np.mean(audio.narrowband(high, 16000)[800:-800] ** 2)) < 0.01  # 6 kHz is above the 4 kHz band


def test_packet_loss_zeroes_the_asked_fraction_of_20ms_packets() -> None:
    wave = np.ones(16000 * 10, np.float32)
    out = audio.packet_loss(wave, 16000, 0.2, np.random.default_rng(0))
    assert (out == 0).mean() == pytest.approx(0.2, abs=0.03)
    runs = np.flatnonzero(np.diff(np.concatenate([[1.0], out, [1.0]]) != 0))
    assert (np.diff(runs)[::2] % 320 == 0).all()  # whole 20 ms packets


def test_settings_refuse_unknown_or_foreign_distortions() -> None:
    assert len(build_settings("face")) == 38 and len(build_settings("audio")) == 22
    assert [s.param for s in build_settings("image", ["jpeg_q"], {"jpeg_q": [80, 20]})] == [80.0, 20.0]
    with pytest.raises(ValueError, match="unknown distortion"):
        build_settings("face", ["nope"])
    with pytest.raises(ValueError, match="applies to audio"):
        build_settings("face", ["mp3"])
