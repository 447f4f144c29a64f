"""One consistent face per video, gap filling, and square crops with landmarks in crop pixels."""

from __future__ import annotations

import numpy as np
import pytest

from dfdet.faces import Detections, FaceCropper, FaceTracker, box_iou, crop_window


def dets(*faces: tuple[list[float], float]) -> Detections:
    """Detections from (box, score) pairs; landmarks at the box centre."""
    if not faces:
        return Detections.empty()
    boxes = np.array([f[0] for f in faces], np.float32)
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    return Detections(boxes, np.array([f[1] for f in faces], np.float32), np.repeat(centres[:, None], 5, axis=1))


def test_keeps_the_consistent_large_face_not_the_best_per_frame() -> None:
    main = lambda t: [100 + 3 * t, 50, 200 + 3 * t, 170]  # noqa: E731 - a large face drifting right
    frames = []
    for t in range(8):
        faces = [(main(t), 0.95)]
        if t % 3 == 0:  # a bystander, more confident but small and intermittent, jumping around
            faces.append(([10 + 40 * t, 300, 50 + 40 * t, 345], 0.999))
        frames.append(dets(*faces))
    track = FaceTracker()(frames)
    assert track.valid.all() and track.detected.all()
    for t in range(8):
        assert box_iou(track.boxes[t][None], np.array([main(t)], np.float32))[0, 0] > 0.99


def test_fills_skipped_frames_by_interpolation_and_limits_extrapolation() -> None:
    box = lambda t: [10.0 * t, 0, 10.0 * t + 100, 100]  # noqa: E731
    frames: list[Detections | None] = [None] * 9
    for t in (2, 4, 6):
        frames[t] = dets((box(t), 0.9 + 0.01 * t))
    track = FaceTracker(max_extrapolate=1)(frames)
    np.testing.assert_allclose(track.boxes[3], box(3), atol=1e-4)  # halfway between 2 and 4
    np.testing.assert_allclose(track.landmarks[5, 0], [100, 50], atol=1e-4)  # centre of box(5)
    assert track.scores[3] == pytest.approx(0.92)  # the lower neighbour score
    assert track.detected.tolist() == [False, False, True, False, True, False, True, False, False]
    assert track.valid.tolist() == [False, True, True, True, True, True, True, True, False]


def test_no_face_gives_an_all_invalid_track() -> None:
    track = FaceTracker()([Detections.empty(), None, Detections.empty()])
    assert not track.valid.any() and track.boxes.shape == (3, 4)


def test_a_face_lost_for_long_starts_a_new_track() -> None:
    tracker = FaceTracker(max_gap=1)
    frames = [dets(([0, 0, 50, 50], 0.9))] + [Detections.empty()] * 3 + [dets(([0, 0, 50, 50], 0.9))]
    assert len(tracker.link(frames)) == 2
    assert len(FaceTracker(max_gap=3).link(frames)) == 1


def test_crop_window_is_square_with_margin() -> None:
    x0, y0, side = crop_window(np.array([100, 100, 200, 300]), margin=0.25)
    assert side == 300 and (x0 + side / 2, y0 + side / 2) == (150, 200)


def test_crop_maps_landmarks_and_pads_outside_the_frame() -> None:
    frame = np.full((100, 120, 3), 200, np.uint8)
    box = np.array([-20, 10, 40, 70], np.float32)  # partly left of the frame
    marks = np.array([[0, 40], [20, 40], [10, 50], [0, 60], [20, 60]], np.float32)
    crop, crop_marks = FaceCropper(margin=0.0, size=30)(frame, box, marks)
    assert crop.shape == (30, 30, 3) and crop.dtype == np.uint8
    assert crop[:, :8].max() == 0 and crop[:, 12:].min() == 200  # black where the window leaves the frame
    np.testing.assert_allclose(crop_marks[0], [10, 15], atol=1e-4)  # (0 - -20, 40 - 10) * 30 / 60
