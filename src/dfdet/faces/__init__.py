"""Faces: detection (facenet-pytorch MTCNN, behind :mod:`dfdet.faces.detector` only), tracking and cropping."""

from dfdet.faces.crop import FaceCropper, crop_square, crop_window
from dfdet.faces.detector import Detections, FaceDetector
from dfdet.faces.tracking import FaceTrack, FaceTracker, box_iou

__all__ = [
    "Detections",
    "FaceCropper",
    "FaceDetector",
    "FaceTrack",
    "FaceTracker",
    "box_iou",
    "crop_square",
    "crop_window",
]
