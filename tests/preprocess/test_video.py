"""Uniform frame sampling and PyAV decoding (sequential and seeking), images, unreadable files."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from dfdet.preprocess.video import DecodeError, read_media, sample_indices
from dfdet.testing.media import ClipBank, face_frames, write_corrupt, write_video


def test_sampling_is_uniform_over_the_whole_video() -> None:
    assert sample_indices(300, 4).tolist() == [37, 112, 187, 262]
    idx = sample_indices(1000, 32)
    assert len(idx) == 32 and np.all(np.diff(idx) > 0) and idx[0] < 1000 / 32 and idx[-1] > 1000 - 1000 / 32
    assert np.ptp(np.diff(idx)) <= 1  # evenly spaced
    assert sample_indices(5, 32).tolist() == [0, 1, 2, 3, 4]
    assert sample_indices(0, 8).tolist() == []


def test_reads_the_sampled_frames(tmp_path: Path) -> None:
    frames = face_frames(10, size=(64, 48))
    frames = [np.full_like(f, 20 * i) for i, f in enumerate(frames)]  # frame i has grey level 20 i
    path = write_video(tmp_path / "v.mp4", frames)
    indices, got, total = read_media(path, 3)
    assert total == 10 and indices.tolist() == sample_indices(10, 3).tolist() == [1, 5, 8]
    assert [round(float(f.mean()) / 20) for f in got] == [1, 5, 8]
    assert got[0].shape == (48, 64, 3) and got[0].dtype == np.uint8


def test_a_video_slower_to_read_than_its_timeout_is_a_decode_error(tmp_path: Path) -> None:
    path = write_video(tmp_path / "v.mp4", face_frames(10, size=(64, 48)))
    with pytest.raises(DecodeError, match="longer than 1e-09 s"):
        read_media(path, 3, timeout_s=1e-9)
    assert len(read_media(path, 3, timeout_s=60)[1]) == 3


def test_seeking_gives_the_same_frames(tmp_path: Path, clip_bank: ClipBank) -> None:
    path = write_video(tmp_path / "long.mp4", face_frames(40, size=(64, 48)))
    a_idx, a, _ = read_media(path, 5)
    b_idx, b, _ = read_media(path, 5, seek_gap=1)
    assert a_idx.tolist() == b_idx.tolist()
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def test_seeking_on_real_clips(shared_data: Path) -> None:
    for path in sorted((shared_data / "video").glob("*.mp4")):
        a_idx, a, total = read_media(path, 8)
        b_idx, b, _ = read_media(path, 8, seek_gap=5)
        assert total >= 200 and a_idx.tolist() == b_idx.tolist(), path.name
        assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True)), path.name


def test_images_are_one_frame(tmp_path: Path) -> None:
    image = face_frames(1, size=(80, 60))[0]
    cv2.imwrite(str(tmp_path / "a.png"), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    indices, frames, total = read_media(tmp_path / "a.png", 32)
    assert indices.tolist() == [0] and total == 1 and np.array_equal(frames[0], image)


@pytest.mark.parametrize("kind", ["corrupt", "empty", "bad_image"])
def test_unreadable_files_raise_decode_error(tmp_path: Path, kind: str) -> None:
    if kind == "corrupt":
        path = write_corrupt(tmp_path / "x.mp4")
    elif kind == "empty":
        path = tmp_path / "x.mp4"
        path.write_bytes(b"")
    else:
        path = tmp_path / "x.jpg"
        path.write_bytes(b"not a jpeg")
    with pytest.raises(DecodeError, match="unreadable"):
        read_media(path, 4)
