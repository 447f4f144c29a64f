"""Faces: detection (facenet-pytorch MTCNN, behind :mod:`dfdet.faces.detector` only), tracking, cropping and optional
68-point landmarks (dlib, imported only when used)."""

from dfdet.faces.crop import FaceCropper, crop_square, crop_window
from dfdet.faces.detector import Detections, FaceDetector
from dfdet.faces.landmarks68 import Dlib68Landmarks, LandmarkBackendError
from dfdet.faces.tracking import FaceTrack, FaceTracker, box_iou

__all__ = [
    "Detections",
    "Dlib68Landmarks",
    "FaceCropper",
    "FaceDetector",
    "FaceTrack",
    "FaceTracker",
    "LandmarkBackendError",
    "box_iou",
    "crop_square",
    "crop_window",
]
