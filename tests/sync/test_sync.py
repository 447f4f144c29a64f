"""The training-free sync measure recovers known audio-video offsets: on signals, on the built-in talking clips
(through real mp4 files) and on the real talking heads of the shared media (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dfdet.data.av import ClipSpec, sample_person, talking_pair
from dfdet.faces.landmarks68 import Dlib68Landmarks
from dfdet.sync import SyncMeasure, estimate_offset, lip_aperture
from dfdet.sync.video import Observation
from dfdet.testing.media import write_video

SHIFTS = (-10, -7, -5, -3, 3, 5, 7, 10)


def delayed(wave: np.ndarray, frames: int, fps: float, rate: int = 16000) -> np.ndarray:
    """The sound delayed by ``frames`` video frames (negative: advanced), same length, silence where none is left."""
    n = round(abs(frames) * rate / fps)
    pad = np.zeros(n, np.float32)
    return np.concatenate([pad, wave[: len(wave) - n]]) if frames > 0 else np.concatenate([wave[n:], pad])


def test_estimate_offset_finds_the_lag_between_two_tracks() -> None:
    rng = np.random.default_rng(0)
    mouth = np.convolve(rng.standard_normal(260), np.hanning(7), "same")
    for lag in (-12, -4, 0, 3, 9):
        envelope = np.roll(mouth, lag) + 0.3 * rng.standard_normal(260)
        video, windows = estimate_offset(mouth, envelope, fps=25)
        assert video.offset == lag and video.confidence > 0.3
        assert np.mean([w.offset == lag for w in windows]) > 0.8 and windows[0].end - windows[0].start == 3.0
    with pytest.raises(ValueError, match="too few"):
        estimate_offset(mouth[:30], mouth[:30], fps=25)


def test_lip_aperture_does_not_change_with_the_face_size() -> None:
    points = np.zeros((68, 2))
    points[36:42], points[42:48] = (30, 40), (70, 40)  # eye centres 40 px apart
    points[[50, 51, 52], 1], points[[58, 57, 56], 1] = 80, 92
    assert lip_aperture(points) == pytest.approx(12 / 40)
    assert lip_aperture(np.stack([points, 3 * points])) == pytest.approx([0.3, 0.3])


def test_the_68_point_backend_is_installed_and_finds_its_model() -> None:
    backend = Dlib68Landmarks()
    assert Path(backend.predictor_path).name == "shape_predictor_68_face_landmarks.dat"


@pytest.fixture(scope="module")
def talking(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, object, object]:
    spec = ClipSpec(size=96, seconds=4.0)
    rng = np.random.default_rng(11)
    real, fake = talking_pair(sample_person(rng, spec), sample_person(rng, spec), "offset", spec, rng)
    folder = tmp_path_factory.mktemp("talking")
    return (write_video(folder / "real.mp4", list(real.frames), real.fps, real.audio),
            write_video(folder / "offset.mp4", list(fake.frames), fake.fps, fake.audio), real, fake)  # fmt: skip


def test_offsets_of_a_talking_clip_are_recovered_through_its_mp4(talking: tuple) -> None:
    real_path, fake_path, real, fake = talking
    measure = SyncMeasure(detect_every_s=1.0)
    seen = measure.observe(real_path)
    original = measure.estimate(seen)
    assert original.mouth == "mouth_region"  # dlib was not trained on rendered faces: the pixels read them better
    assert abs(original.offset_frames - real.lead) <= 1  # the lips lead the sound as rendered
    for shift in range(-10, 11):
        copy = measure.estimate(seen, delayed(seen.wave, shift, seen.fps))
        assert abs(copy.offset_frames - original.offset_frames - shift) <= 1, shift
        if abs(shift) >= 3:
            assert copy.sync_score < original.sync_score, shift
    for how in ("landmarks68", "mouth_region"):  # a reading asked for is the one used
        assert SyncMeasure(mouth=how).estimate(seen).mouth == how
    with pytest.raises(ValueError, match="mouth must be"):
        SyncMeasure(mouth="lips")
    shifted = measure(fake_path)  # the offset fake, decoded from its own file
    assert abs(shifted.offset_frames - original.offset_frames - fake.av_offset) <= 1
    assert shifted.windows and all(w["end"] <= 4.0 for w in shifted.windows)


REAL_VIDEOS = ("WDA_AlexandriaOcasioCortez_000.mp4", "WDA_KatieHill_000.mp4")


@pytest.mark.slow
@pytest.mark.parametrize("name", REAL_VIDEOS)
def test_offsets_of_real_talking_heads_are_recovered(shared_data: Path, name: str) -> None:
    path = shared_data / "video" / name
    if not path.is_file():
        pytest.skip(f"{path} is absent")
    measure = SyncMeasure()
    seen: Observation = measure.observe(path)
    assert "landmarks68" in seen.readings
    original = measure.estimate(seen)
    assert abs(original.offset_frames) <= 5 and original.face_fraction > 0.9
    lead = 0.08 * seen.fps  # the natural lead the sync score centres on, frames
    for shift in SHIFTS:
        copy = measure.estimate(seen, delayed(seen.wave, shift, seen.fps))
        assert abs(copy.offset_frames - original.offset_frames - shift) <= 1, shift
        if abs(copy.offset_frames - lead) > abs(original.offset_frames - lead) + 1:  # moved away from natural timing
            assert copy.sync_score < original.sync_score, shift
