"""Units of prediction: file sniffing, pixel limits, input transform, aggregation, clips, explanations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dfdet.explain import grad_cam, heat_colours, occlusion_map, overlay, png_bytes
from dfdet.predict import MediaError, sniff
from dfdet.predict.media import check_pixels, sniff_file
from dfdet.predict.scoring import aggregate, clip_scores_per_frame, clip_starts, make_clips, to_input

SIGNATURES = [
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "jpeg"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "png"),
    (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "webp"),
    (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00", "mp4"),
    (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00", "mov"),
    (b"\x00\x00\x00\x20ftypM4A \x00\x00\x00\x00", "m4a"),
    (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01", "matroska"),
    (b"RIFF\x00\x00\x00\x00AVI LIST", "avi"),
    (b"RIFF\x24\x00\x00\x00WAVEfmt ", "wav"),
    (b"fLaC\x00\x00\x00\x22", "flac"),
    (b"ID3\x04\x00\x00\x00\x00\x00\x00", "mp3"),
    (b"\xff\xfb\x90\x64\x00\x00\x00\x00", "mp3"),
    (b"OggS\x00\x02\x00\x00\x00\x00", "ogg"),
    (b"GIF89a\x10\x00\x10\x00", "gif"),
    (b"GIF87a\x10\x00\x10\x00", "gif"),
]


@pytest.mark.parametrize(("head", "name"), SIGNATURES)
def test_sniff_recognises_magic_numbers(head: bytes, name: str) -> None:
    media = sniff(head + b"\x00" * 64)
    assert media is not None and media.name == name


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"hello world, not media",
        b"\x80\x04\x95pickle",
        b"PK\x03\x04zip",
        b"MZ\x90\x00",
        b"\xff\xff\xff\xff",
        b"%PDF-1",
    ],
)
def test_sniff_refuses_everything_else(head: bytes) -> None:
    assert sniff(head) is None


def test_pixel_limit_stops_decompression_bombs(media: dict[str, Path]) -> None:
    bomb = media["bomb"]
    assert bomb.stat().st_size < 2000
    with pytest.raises(MediaError) as info:
        check_pixels(bomb, sniff_file(bomb), max_pixels=40_000_000)
    assert info.value.code == "image_too_large" and "pixels" in info.value.message
    check_pixels(media["image"], sniff_file(media["image"]), max_pixels=192 * 144)
    with pytest.raises(MediaError, match="more than the limit of 1000"):
        check_pixels(media["video"], sniff_file(media["video"]), max_pixels=1000)


def test_to_input_matches_the_evaluation_transform() -> None:
    from dfdet.transforms import build_eval_transform

    rng = np.random.default_rng(0)
    crops = [rng.integers(0, 256, (256, 256, 3), dtype=np.uint8) for _ in range(3)]
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    expected = torch.stack([build_eval_transform(96, mean, std)(c) for c in crops]).numpy()
    np.testing.assert_allclose(to_input(crops, 96, mean, std), expected, atol=1e-5)


@pytest.mark.parametrize("method", ["mean", "max", "topk_mean"])
def test_aggregate_matches_evaluation(method: str) -> None:
    from dfdet.metrics.functional import aggregate_by_video

    probs = np.random.default_rng(1).uniform(size=13)
    zeros = torch.zeros(13, dtype=torch.long)
    ref, _, _ = aggregate_by_video(torch.tensor(probs), zeros, zeros, method, 5)
    assert aggregate(probs, method, 5) == pytest.approx(float(ref[0]))


def test_clips_match_the_training_layout() -> None:
    from dfdet.data.datasets import clip_starts as training_clip_starts

    for n, t, s in [(3, 4, 2), (8, 4, 4), (10, 4, 3), (32, 8, 4)]:
        assert clip_starts(n, t, s) == training_clip_starts(n, t, s)
    x = np.arange(5, dtype=np.float32)[:, None, None, None] * np.ones((5, 3, 2, 2), np.float32)
    clips, starts = make_clips(x, 4, 4)
    assert clips.shape == (1, 4, 3, 2, 2) and starts == [0]
    clips, _ = make_clips(x[:2], 4, 4)  # short video: the last frame repeats
    assert clips[0, :, 0, 0, 0].tolist() == [0, 1, 1, 1]
    np.testing.assert_allclose(clip_scores_per_frame(5, [0], 4, np.array([0.7])), [0.7] * 5)


def test_occlusion_finds_the_evidence() -> None:
    def logits(x: np.ndarray) -> np.ndarray:  # "fake" evidence: the top-left quarter
        return 4 * x[:, :, :16, :16].mean(axis=(1, 2, 3)) - 2

    heat = occlusion_map(logits, np.ones((2, 3, 32, 32), np.float32))
    assert heat.shape == (2, 32, 32) and heat.max() == pytest.approx(1.0)
    assert heat[:, :16, :16].mean() > 5 * heat[:, 16:, 16:].mean()
    assert occlusion_map(lambda x: np.zeros(len(x)), np.ones((1, 3, 8, 8), np.float32)).max() == 0


def test_grad_cam_on_timm_backbones() -> None:
    import timm

    from dfdet.models.heads import MeanHead

    net = timm.create_model("test_resnet", num_classes=1).eval()
    cam = grad_cam(net, torch.randn(3, 3, 64, 64))
    assert cam.shape == (3, 64, 64) and float(cam.min()) >= 0 and float(cam.max()) <= 1 + 1e-6
    head = MeanHead(int(net.num_features)).eval()
    assert grad_cam(net, torch.randn(2, 4, 3, 64, 64), head).shape == (2, 4, 64, 64)


def test_overlay_and_png() -> None:
    assert heat_colours(np.array([[0.0, 1.0]])).shape == (1, 2, 3)
    crop = np.full((64, 64, 3), 100, np.uint8)
    out = overlay(crop, np.linspace(0, 1, 16 * 16).reshape(16, 16))
    assert out.shape == crop.shape and out.dtype == np.uint8
    assert png_bytes(out).startswith(b"\x89PNG")
