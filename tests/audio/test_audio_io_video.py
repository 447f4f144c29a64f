"""Decoding and resampling, the sound track of a generated video, late fusion, and real speech scored."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf
import torch

from dfdet.data.audio.io import NoAudioTrackError, extract_audio_track, load_audio, resample
from dfdet.errors import ManifestError
from dfdet.metrics.fusion import late_fusion
from dfdet.models.audio import LCNN
from dfdet.models.frontends import LFCC
from dfdet.models.scoring import score_video_audio, score_waveform


def test_resample_keeps_a_tone() -> None:
    t = np.arange(44100) / 44100
    y = resample(np.sin(2 * np.pi * 440 * t), 44100, 16000)
    assert len(y) == 16000 and y.dtype == np.float32
    assert abs(np.fft.rfft(y).__abs__().argmax() - 440) <= 1  # 1 Hz bins over one second


def test_load_audio_mixes_and_resamples(tmp_path: Path) -> None:
    stereo = np.stack([np.full(8000, 0.5), np.full(8000, -0.1)], axis=1).astype(np.float32)
    sf.write(tmp_path / "s.wav", stereo, 8000)
    y = load_audio(tmp_path / "s.wav", 16000)
    assert y.shape == (16000,) and abs(float(np.median(y)) - 0.2) < 1e-3
    assert load_audio(tmp_path / "s.wav", None).shape == (8000,)
    (tmp_path / "bad.flac").write_bytes(b"not audio")
    with pytest.raises(ManifestError, match="bad.flac"):
        load_audio(tmp_path / "bad.flac")
    with pytest.raises(ManifestError, match="not found"):
        load_audio(tmp_path / "missing.wav")


def write_video(path: Path, seconds: float = 1.0, audio: bool = True, rate: int = 44100) -> None:
    """A small mp4 (mpeg4 video, moving gradient) with an optional AAC stereo track (220 Hz tone)."""
    fps = 10
    with av.open(str(path), "w") as out:
        video = out.add_stream("mpeg4", rate=fps)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        sound = out.add_stream("aac", rate=rate) if audio else None
        if sound is not None:
            sound.layout = "stereo"
        for i in range(int(seconds * fps)):
            img = np.full((48, 64, 3), (i * 20) % 255, np.uint8)
            for packet in video.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in video.encode(None):
            out.mux(packet)
        if sound is not None:
            t = np.arange(int(seconds * rate)) / rate
            wave = np.stack([0.3 * np.sin(2 * np.pi * 220 * t)] * 2).astype(np.float32)
            frame = av.AudioFrame.from_ndarray(wave, format="fltp", layout="stereo")
            frame.sample_rate = rate
            for packet in sound.encode(frame):
                out.mux(packet)
            for packet in sound.encode(None):
                out.mux(packet)


def tiny_lcnn() -> torch.nn.Module:
    torch.manual_seed(0)
    return LCNN(LFCC(), channels=(4, 4, 4, 4, 4), embedding=8).eval()


def test_video_sound_track_is_extracted_scored_and_fused(tmp_path: Path) -> None:
    write_video(tmp_path / "talk.mp4")
    wave = extract_audio_track(tmp_path / "talk.mp4", 16000)
    assert wave.dtype == np.float32 and abs(len(wave) - 16000) < 2048  # 1 s, give or take codec priming
    spectrum = np.abs(np.fft.rfft(wave[2048:14336]))
    assert abs(spectrum.argmax() * 16000 / 12288 - 220) < 3
    audio_score = score_video_audio(tiny_lcnn(), tmp_path / "talk.mp4", num_samples=8000)
    assert 0.0 <= audio_score <= 1.0
    assert late_fusion(0.8, audio_score, audio_weight=0.25) == pytest.approx(0.75 * 0.8 + 0.25 * audio_score)
    assert late_fusion(0.8, None) == 0.8
    with pytest.raises(ValueError, match="audio_weight"):
        late_fusion(0.8, 0.1, audio_weight=1.5)


def test_video_without_sound_track(tmp_path: Path) -> None:
    write_video(tmp_path / "mute.mp4", audio=False)
    with pytest.raises(NoAudioTrackError, match="no audio track"):
        extract_audio_track(tmp_path / "mute.mp4")


def test_real_speech_is_loaded_and_scored(shared_data: Path) -> None:
    files = sorted((shared_data / "audio").rglob("*.flac")) + sorted((shared_data / "audio").glob("*.wav"))
    if not files:
        pytest.skip("no speech files in the shared data folder")
    net = tiny_lcnn()
    for path in files:
        info = sf.info(str(path))
        wave = load_audio(path, 16000)
        assert len(wave) == pytest.approx(info.frames * 16000 / info.samplerate, abs=2)
        assert 0.001 < float(np.sqrt(np.mean(wave**2))) < 0.5  # speech level, mono float
        assert 0.0 <= score_waveform(net, wave[:48000], num_samples=16000, hop=8000) <= 1.0
