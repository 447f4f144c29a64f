"""The built-in talking clips: the mouth follows the voice, each fake alters what its labels say, the source trains."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dfdet.data.audio.dsp import speech_envelope
from dfdet.data.audio.io import extract_audio_track
from dfdet.data.audio.silence import speech_span
from dfdet.data.av import METHODS, ClipSpec, SyntheticAVSource, sample_person, talking_pair
from dfdet.testing.media import write_video

SPEC = ClipSpec(size=48, fps=25, seconds=2.4)


def best_lag(mouth: np.ndarray, audio: np.ndarray, fps: int = 25, max_lag: int = 12) -> int:
    """The lag (frames the sound comes after the mouth) that best correlates the two high-passed tracks."""
    env = speech_envelope(audio, 16000, fps, len(mouth))
    env, mouth = env - np.convolve(env, np.ones(9) / 9, "same"), mouth - np.convolve(mouth, np.ones(9) / 9, "same")
    lags = np.arange(-max_lag, max_lag + 1)
    corr = [np.corrcoef(mouth[max(0, -k) : len(mouth) - max(0, k)], env[max(0, k) : len(env) - max(0, -k)])[0, 1]
            for k in lags]  # fmt: skip
    return int(lags[int(np.argmax(corr))])


@pytest.fixture(scope="module")
def pairs() -> dict:
    rng = np.random.default_rng(5)
    person, donor = sample_person(rng, SPEC), sample_person(rng, SPEC)
    return {method: talking_pair(person, donor, method, SPEC, rng) for method in METHODS}


def test_the_mouth_leads_the_voice_by_one_to_two_frames_through_the_mp4(pairs: dict, tmp_path: Path) -> None:
    real, fake = pairs["offset"]
    assert 1.0 <= real.lead <= 2.0 and real.label == 0 and fake.label == 1
    write_video(tmp_path / "real.mp4", list(real.frames), real.fps, real.audio)
    decoded = extract_audio_track(tmp_path / "real.mp4")
    assert best_lag(real.mouth, real.audio) in (1, 2)
    assert best_lag(real.mouth, decoded) == best_lag(real.mouth, real.audio)  # the AAC priming does not shift it
    assert 4 <= abs(fake.av_offset) <= 10
    assert best_lag(fake.mouth, fake.audio) == best_lag(real.mouth, real.audio) + fake.av_offset


def test_each_fake_alters_only_what_its_labels_say(pairs: dict) -> None:
    for method, (real, fake) in pairs.items():
        assert fake.method == method and fake.frames.shape == real.frames.shape
        assert len(fake.audio) == len(real.audio) == round(SPEC.seconds * 16000)
        changed_frames = np.abs(fake.frames.astype(int) - real.frames.astype(int)).max(axis=(1, 2, 3)) > 8
        changed_sound = np.abs(fake.audio - real.audio) > 1e-6
        times = np.arange(len(changed_frames)) / SPEC.fps
        visual, audio = fake.visual_fake_segments, fake.audio_fake_segments
        assert fake.fake_segments, method
        if method == "offset":
            assert not visual and not audio and changed_sound.any() and not changed_frames.any()
            continue
        assert bool(visual) == changed_frames.any(), method
        assert bool(audio) == changed_sound.any(), method
        if visual:
            ((lo, hi),) = visual
            inside = (times >= lo) & (times < hi)
            assert not changed_frames[~inside].any() and changed_frames[inside].mean() > 0.5, method
        if audio:
            ((lo, hi),) = audio
            samples = np.arange(len(changed_sound)) / 16000
            assert not changed_sound[(samples < lo - 0.01) | (samples > hi + 0.01)].any(), method
        if method.startswith("partial"):
            ((lo, hi),) = fake.fake_segments
            assert 0.3 - 1e-6 <= hi - lo <= 2.0 and lo > 0 and hi < SPEC.seconds, method


def test_a_lipsync_fake_moves_the_mouth_with_another_utterance(pairs: dict) -> None:
    real, fake = pairs["lipsync"]
    np.testing.assert_array_equal(fake.audio, real.audio)
    assert np.corrcoef(fake.mouth, real.mouth)[0, 1] < 0.5  # the lips no longer follow this voice


def test_the_source_generates_once_and_feeds_the_audio_visual_reader(tmp_path: Path) -> None:
    from dfdet.data import DeepfakeDataModule
    from dfdet.data.readers import AudioVisualReader
    from dfdet.transforms import build_eval_transform

    kwargs = {"persons": [2, 2, 2], "clips_per_person": 1, "size": 48, "seconds": 1.2}
    source = SyntheticAVSource(tmp_path / "cache", **kwargs)
    reader = AudioVisualReader(4, 4, 3200, 16000)
    transform = build_eval_transform(32, (0.5,) * 3, (0.5,) * 3)
    dm = DeepfakeDataModule(source, reader, modality="audio_visual", eval_transform=transform, batch_size=4)
    dm.setup()
    manifest = source.manifest()
    assert set(manifest["method"]) == {"real", *METHODS[:6]}
    assert manifest.groupby("video_id").size().eq(30).all()  # every frame of 1.2 s at 25 fps
    assert all(Path(p).is_file() for p in manifest["source_path"])
    folder = source.manifest_path().parent
    meta = json.loads((folder / "metadata.json").read_text())
    assert len(meta) == manifest["video_id"].nunique() and {"modify_video", "modify_audio"} <= set(meta[0])
    batch = next(iter(dm.test_dataloader()))
    assert batch["clip"].shape[1:] == (4, 3, 32, 32) and batch["audio"].shape[1:] == (3200,)
    assert batch["audio_present"].all() and batch["audio"].abs().sum() > 0
    trimmed = DeepfakeDataModule(source, AudioVisualReader(4, 4, 3200, 16000), modality="audio_visual",
                                 eval_transform=transform, trim_silence=True)  # fmt: skip
    trimmed.setup()
    full, kept = dm.datasets["test"], trimmed.datasets["test"]
    assert set(kept.spans) <= set(full.spans) and len(kept.labels) == len(kept.spans) == len(kept.clips)  # type: ignore[attr-defined]
    for path, first, last in kept.spans:  # type: ignore[attr-defined]
        wave = extract_audio_track(path)
        start, end = speech_span(wave, 16000)
        assert start <= (first + last + 1) / 2 / 25 * 16000 < end
    stamp = (folder / "manifest.parquet").stat().st_mtime_ns
    SyntheticAVSource(tmp_path / "cache", **kwargs).prepare()
    assert (folder / "manifest.parquet").stat().st_mtime_ns == stamp  # cached, not regenerated
