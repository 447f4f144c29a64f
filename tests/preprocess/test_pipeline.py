"""One video in, crops of one consistent face out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dfdet.faces import FaceCropper, FaceDetector, FaceTracker, box_iou
from dfdet.preprocess.pipeline import NoFaceError, VideoPreprocessor
from dfdet.testing.media import ClipBank, write_video


def make(detect_every: int = 1, refine_iou: float | None = None) -> VideoPreprocessor:
    return VideoPreprocessor(
        FaceDetector(), FaceTracker(), FaceCropper(size=64), 6, detect_every=detect_every, refine_iou=refine_iou
    )


def test_crops_every_sampled_frame(clip_bank: ClipBank) -> None:
    faces = make()(clip_bank.clip(fake=False))
    assert faces.frame_indices.tolist() == list(range(6)) and faces.num_frames == 6 and faces.sampled == 6
    assert len(faces.crops) == 6 and faces.crops[0].shape == (64, 64, 3)
    assert faces.detected.all() and (faces.scores > 0.9).all()
    assert faces.boxes.shape == (6, 4) and faces.landmarks.shape == (6, 5, 2)
    assert ((faces.landmarks > 0) & (faces.landmarks < 64)).all()  # landmarks in crop pixels


def test_detect_every_interpolates_close_to_full_detection(clip_bank: ClipBank) -> None:
    full = make(detect_every=1)(clip_bank.clip(fake=True))
    sparse = make(detect_every=2)
    assert sparse.detection_plan(6) == [0, 2, 4, 5]
    faces = sparse(clip_bank.clip(fake=True))
    assert faces.detected.tolist() == [True, False, True, False, True, True]
    assert np.diag(box_iou(faces.boxes, full.boxes)).min() > 0.8


def test_fast_motion_is_refined_by_detecting_skipped_frames(clip_bank: ClipBank) -> None:
    # Frames 0 and 2 of the clip overlap with IoU 0.41 (fast motion), frames 2 and 4 with 0.75.
    assert make(detect_every=2, refine_iou=0.5)(clip_bank.clip(fake=True)).detected.tolist() == [1, 1, 1, 0, 1, 1]
    assert make(detect_every=2, refine_iou=0.1)(clip_bank.clip(fake=True)).detected.sum() == 4


def test_no_face_raises(tmp_path: Path) -> None:
    path = write_video(tmp_path / "blank.mp4", [np.full((64, 80, 3), 127, np.uint8)] * 4)
    with pytest.raises(NoFaceError, match="no face"):
        make()(path)
