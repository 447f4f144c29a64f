"""MTCNN behind dfdet.faces: batched, downscaled detection finds the same faces as facenet-pytorch's plain call."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from skimage.data import astronaut

from dfdet.faces import Detections, FaceDetector, box_iou

ASTRONAUT_FACE = np.array([181, 62, 268, 172], np.float32)  # facenet-pytorch's box at full resolution


@pytest.fixture(scope="module")
def detector() -> FaceDetector:
    return FaceDetector(max_side=320, min_face_size=40)


def test_finds_the_astronaut_face_at_reduced_size(detector: FaceDetector) -> None:
    det = detector.detect([astronaut()])[0]
    assert isinstance(det, Detections) and len(det) == 1
    assert det.boxes.shape == (1, 4) and det.scores.shape == (1,) and det.landmarks.shape == (1, 5, 2)
    assert box_iou(det.boxes, ASTRONAUT_FACE[None])[0, 0] > 0.8  # mapped back to source pixels
    x1, y1, x2, y2 = det.boxes[0]
    assert ((det.landmarks[0, :, 0] > x1) & (det.landmarks[0, :, 0] < x2)).all()
    assert ((det.landmarks[0, :, 1] > y1) & (det.landmarks[0, :, 1] < y2)).all()
    left_eye, right_eye = det.landmarks[0, 0], det.landmarks[0, 1]
    assert left_eye[0] < right_eye[0]  # image-left eye first


def test_batch_equals_single_and_mixed_sizes(detector: FaceDetector) -> None:
    big = astronaut()
    small = cv2.resize(big, (300, 300), interpolation=cv2.INTER_AREA)
    blank = np.zeros((200, 240, 3), np.uint8)
    batch = detector.detect([big, small, blank, big])
    assert [len(d) for d in batch] == [1, 1, 0, 1]
    np.testing.assert_allclose(batch[0].boxes, detector.detect([big])[0].boxes, atol=1e-3)
    np.testing.assert_allclose(batch[1].boxes * (512 / 300), batch[0].boxes, atol=6)


def test_pickles_without_networks(detector: FaceDetector) -> None:
    import pickle

    detector.detect([np.zeros((64, 64, 3), np.uint8)])
    clone = pickle.loads(pickle.dumps(detector))
    assert clone._mtcnn is None and clone.max_side == detector.max_side


def test_agrees_with_plain_facenet_on_real_photos(shared_data: Path, detector: FaceDetector) -> None:
    from facenet_pytorch import MTCNN

    plain = MTCNN(keep_all=True)
    photos = sorted((shared_data / "faces" / "facenet_test_images").rglob("*.jp*g"))[:2]
    assert photos, "no photos found"
    for path in photos:
        image = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        scale = 480 / max(image.shape[:2])  # the plain reference at 480 px keeps the test quick
        ref, _ = plain.detect(cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA))
        ours = detector.detect([image])[0]  # full-size photo in, boxes in full-size pixels out
        assert len(ours) >= 1
        assert box_iou(ours.boxes[:1] * scale, ref[:1].astype(np.float32)).max() > 0.7, path.name


def test_group_photo_finds_every_face(shared_data: Path) -> None:
    image = cv2.cvtColor(cv2.imread(str(shared_data / "faces" / "facenet_multiface.jpg")), cv2.COLOR_BGR2RGB)
    det = FaceDetector(max_side=None, min_face_size=20).detect([image])[0]
    assert len(det) >= 6
    assert np.all(np.diff(det.scores) <= 0)  # highest score first


def test_cascade_equals_facenet_mtcnn_on_real_photos(shared_data: Path) -> None:
    """dfdet.faces.mtcnn (no torchvision import) gives facenet-pytorch's boxes, scores and landmarks exactly."""
    from facenet_pytorch import MTCNN

    from dfdet.faces.mtcnn import Mtcnn

    reference, port = MTCNN(keep_all=True, select_largest=False, min_face_size=20), Mtcnn(min_face_size=20)
    photos = [shared_data / "faces" / "facenet_multiface.jpg"]  # 6 faces: many overlapping candidates to suppress
    for path in photos:
        image = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        scale = 480 / max(image.shape[:2])
        image = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)), cv2.INTER_AREA)
        batch = np.stack([image, np.ascontiguousarray(image[::-1])])  # two frames: NMS stays within each
        boxes, probs, points = reference.detect(batch, landmarks=True)
        for i, (found, marks) in enumerate(port.detect(batch)):
            assert len(found) == len(boxes[i]) > 0, path
            order = np.argsort(-found[:, 4], kind="stable")
            np.testing.assert_allclose(found[order, :4], np.asarray(boxes[i], np.float32), atol=1e-3)
            np.testing.assert_allclose(found[order, 4], np.asarray(probs[i], np.float32), atol=1e-6)
            np.testing.assert_allclose(marks[order], np.asarray(points[i], np.float32), atol=1e-3)


@pytest.mark.parametrize("count", [50, 1500])  # torchvision switches algorithms above 1000 boxes
def test_nms_equals_torchvision(count: int) -> None:
    import torch
    from torchvision.ops import batched_nms as reference_batched
    from torchvision.ops import nms as reference

    from dfdet.faces.mtcnn import batched_nms, nms

    gen = torch.Generator().manual_seed(count)
    corner = torch.rand(count, 2, generator=gen) * 100
    boxes = torch.cat([corner, corner + torch.rand(count, 2, generator=gen) * 30 + 1], dim=1)
    scores, images = torch.rand(count, generator=gen), torch.randint(0, 3, (count,), generator=gen)
    assert torch.equal(nms(boxes, scores, 0.5), reference(boxes, scores, 0.5))
    assert torch.equal(batched_nms(boxes, scores, images, 0.7), reference_batched(boxes, scores, images, 0.7))
