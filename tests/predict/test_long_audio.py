"""Long and real recordings: voice activity, sliding windows with their times, the file score of the windows with
speech, ``not_applicable`` without speech; every input format decoded; 30 s of real speech scored window by window."""

from __future__ import annotations

import math
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile as sf

from dfdet.data.audio.vad import EnergyVAD
from dfdet.predict.audio import fake_regions, score_recording
from dfdet.predict.errors import MediaError

SR = 16000


def speechlike(seconds: float, seed: int = 0) -> np.ndarray:
    """Syllable-rate bursts of a harmonic voice (100-200 Hz) with a little noise, at about -20 dBFS."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    f0 = rng.uniform(100, 200)
    voice = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 8))
    envelope = 0.6 + 0.4 * np.sin(2 * np.pi * 4 * t)  # 4 syllables a second, never silent
    return (0.1 * voice * envelope / 2.6 + 0.002 * rng.standard_normal(len(t))).astype(np.float32)


def silence(seconds: float, seed: int = 1) -> np.ndarray:
    """Room noise at about -70 dBFS."""
    return (10 ** (-70 / 20) * np.random.default_rng(seed).standard_normal(int(seconds * SR))).astype(np.float32)


def test_vad_finds_speech_pauses_and_nothing_in_silence() -> None:
    vad = EnergyVAD()
    wave = np.concatenate([speechlike(1.0), silence(2.0), speechlike(0.7), silence(0.1), speechlike(0.7)])
    regions = vad.regions(wave, SR)
    assert len(regions) == 2  # the 0.1-s pause is filled, the 2-s one splits the speech
    (a0, a1), (b0, b1) = regions
    assert a0 == pytest.approx(0.0, abs=0.03) and a1 == pytest.approx(1.0, abs=0.04)
    assert b0 == pytest.approx(3.0, abs=0.04) and b1 == pytest.approx(4.5, abs=0.04)
    assert not vad.mask(silence(3.0), SR).any() and not vad.mask(np.zeros(SR, np.float32), SR).any()
    assert vad.mask(speechlike(2.0), SR).all()  # speech without pauses: one steady level, all speech
    click = np.concatenate([silence(1.0), speechlike(0.05), silence(1.0)])
    assert not vad.mask(click, SR).any()  # shorter than a syllable: dropped


def test_windows_cover_the_recording_and_skip_silence() -> None:
    wave = np.concatenate([speechlike(1.0), silence(1.2), speechlike(1.1)])  # 3.3 s
    seen: list[int] = []

    def logits(x: np.ndarray) -> np.ndarray:
        seen.append(len(x))
        return np.log(np.sqrt((x**2).mean(axis=1)) * 10)  # any deterministic function of the window

    out = score_recording(wave, SR, SR // 2, logits, vad=EnergyVAD())
    starts = [w["start_s"] for w in out["windows"]]
    assert starts == [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 2.8] and out["windows"][-1]["end_s"] == 3.3  # the tail is scored
    silent = [w for w in out["windows"] if w["score"] is None]
    assert [w["start_s"] for w in silent] == [1.0, 1.5] and all(w["speech"] < 0.5 for w in silent)
    scores = [w["score"] for w in out["windows"] if w["score"] is not None]
    assert seen == [5] and out["windows_scored"] == 5 and out["probability"] == pytest.approx(np.mean(scores))
    assert out["speech_s"] == pytest.approx(2.1, abs=0.1) and len(out["speech_regions"]) == 2
    half = score_recording(wave, SR, SR // 2, logits, hop=SR // 4, vad=EnergyVAD())
    assert len(half["windows"]) == 13 and half["windows"][1]["start_s"] == 0.25  # 0, 0.25 ... 2.75, and 2.8
    everything = score_recording(wave, SR, SR // 2, logits, vad=None)
    assert everything["windows_scored"] == 7
    with pytest.raises(MediaError) as err:
        score_recording(silence(4.0), SR, SR // 2, logits, vad=EnergyVAD())
    assert err.value.code == "no_speech" and "no speech found in the 4.0 s" in err.value.message
    short = score_recording(speechlike(0.3), SR, SR // 2, logits, vad=EnergyVAD())  # shorter than the window
    assert len(short["windows"]) == 1 and short["windows"][0]["end_s"] == 0.5


def test_fake_regions_merge_windows_above_the_threshold() -> None:
    windows = [{"start_s": 0.0, "end_s": 1.0, "score": 0.2}, {"start_s": 0.5, "end_s": 1.5, "score": 0.7},
               {"start_s": 1.0, "end_s": 2.0, "score": 0.9}, {"start_s": 1.5, "end_s": 2.5, "score": None},
               {"start_s": 2.0, "end_s": 3.0, "score": 0.6}]  # fmt: skip
    assert fake_regions(windows, 0.5) == [{"start_s": 0.5, "end_s": 3.0, "max_score": 0.9}]  # overlapping: one
    assert fake_regions(windows, 0.95) == []


def encode(path: Path, wave: np.ndarray) -> Path:
    """``wave`` in the format of ``path``'s suffix: soundfile for wav/flac/ogg (Vorbis)/opus (Ogg Opus), PyAV (FFmpeg)
    for mp3 and m4a (AAC)."""
    if path.suffix in (".wav", ".flac", ".ogg", ".opus"):
        subtype = {".ogg": "VORBIS", ".opus": "OPUS"}.get(path.suffix)
        sf.write(path, wave, SR, format="OGG" if subtype else None, subtype=subtype)
        return path
    codec = {".mp3": "libmp3lame", ".m4a": "aac"}[path.suffix]
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=SR if codec == "aac" else 16000)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(wave[None].astype(np.float32), format="fltp", layout="mono")
        frame.sample_rate = SR
        for frame_out in [frame] if codec == "aac" else av.AudioResampler("s16p", "mono", SR).resample(frame):
            for packet in stream.encode(frame_out):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


@pytest.fixture(scope="module")
def audio_predictor(untrained_audio_ckpt: Path):
    """One predictor of the untrained tiny LCNN for the format tests (an audio model needs no face pipeline)."""
    from dfdet.predict import Predictor, load_model

    return Predictor(load_model(untrained_audio_ckpt), None)  # type: ignore[arg-type]


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".mp3", ".ogg", ".opus", ".m4a"])
def test_every_format_is_decoded_and_scored_by_window(audio_predictor, tmp_path: Path, suffix: str) -> None:
    path = encode(tmp_path / f"talk{suffix}", np.concatenate([speechlike(1.6), silence(1.5), speechlike(1.1)]))
    result = audio_predictor.predict(path).result
    assert "error" not in result, result
    assert result["kind"] == "audio" and result["duration_s"] == pytest.approx(4.2, abs=0.1)  # codecs pad a little
    assert result["media_type"] == {".wav": "audio/wav", ".flac": "audio/flac", ".mp3": "audio/mpeg",
                                    ".m4a": "audio/mp4"}.get(suffix, "audio/ogg")  # fmt: skip
    assert len(result["windows"]) == math.ceil(result["duration_s"] / 0.5)
    silent = {w["start_s"] for w in result["windows"] if w["score"] is None}  # speech 0-1.6 s and 3.1-4.2 s
    assert {2.0, 2.5} <= silent and not silent & {0.0, 0.5, 1.0, 3.5}
    scores = [w["score"] for w in result["windows"] if w["score"] is not None]
    assert result["fake_probability"] == pytest.approx(np.mean(scores)) and result["verdict"] in ("fake", "real")


def test_a_recording_without_speech_is_not_applicable(
    make_predictor, untrained_audio_ckpt: Path, tmp_path: Path
) -> None:
    result = make_predictor(untrained_audio_ckpt).predict(encode(tmp_path / "room.wav", silence(3.0))).result
    assert result["verdict"] == "not_applicable" and result["error"]["code"] == "no_speech"
    assert result["fake_probability"] is None and "voice activity" in result["reason"]
    on = make_predictor(untrained_audio_ckpt, vad=False).predict(tmp_path / "room.wav").result
    assert "error" not in on and len(on["windows"]) == 6  # without voice activity: silence is scored like speech


def test_window_scores_on_30_seconds_of_real_speech(
    make_predictor, untrained_audio_ckpt: Path, onnx_audio_path: Path, shared_data: Path, tmp_path: Path
) -> None:
    from dfdet.data.audio.io import load_audio

    files = sorted((shared_data / "audio").rglob("*.flac")) + sorted((shared_data / "audio").glob("*.wav"))
    speech = np.concatenate([load_audio(f, SR) for f in files])
    assert len(speech) >= 30 * SR, "the shared speech is shorter than 30 s"
    wave = np.concatenate([speech[: 12 * SR], silence(4.0), speech[12 * SR : 26 * SR]])  # 30 s, a pause at 12-16 s
    path = tmp_path / "long.flac"
    sf.write(path, wave, SR)
    predictor = make_predictor(untrained_audio_ckpt, window_hop=0.5)
    result = predictor.predict(path).result
    assert "error" not in result, result
    windows = result["windows"]
    assert result["duration_s"] == pytest.approx(30.0) and windows[-1]["end_s"] == pytest.approx(30.0)
    assert len(windows) == 119 and windows[1]["start_s"] == 0.25  # 0.5-s windows every 0.25 s
    pause = [w for w in windows if w["start_s"] >= 12.0 and w["end_s"] <= 16.0]
    assert pause and all(w["score"] is None for w in pause)  # silence is not scored as speech
    assert any(a <= 12.0 and 11.0 < b <= 12.2 for a, b in result["speech_regions"])  # speech stops at the pause
    scores = [w["score"] for w in windows if w["score"] is not None]
    assert len(scores) == result["windows_scored"] >= 80 and result["fake_probability"] == pytest.approx(
        np.mean(scores)
    )
    for region in result["fake_regions"]:  # the stretches called fake are made of windows at or above the threshold
        inside = [w for w in windows if region["start_s"] <= w["start_s"] and w["end_s"] <= region["end_s"]]
        assert max(w["score"] for w in inside if w["score"] is not None) == region["max_score"] >= result["threshold"]
    onnx = make_predictor(onnx_audio_path, window_hop=0.5).predict(path).result  # the exported model: same windows
    assert [w["score"] is None for w in onnx["windows"]] == [w["score"] is None for w in windows]
    assert np.allclose([w["score"] for w in onnx["windows"] if w["score"] is not None], scores, atol=1e-4)
