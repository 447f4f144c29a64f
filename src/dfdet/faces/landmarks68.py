"""Optional 68-point face landmarks (dlib's shape predictor), so synthesised fake masks can follow the face contour.

dlib is an optional dependency (``uv sync --extra dlib``) and is imported only when :class:`Dlib68Landmarks` is
built, never when :mod:`dfdet.faces` is imported. The model file is ``shape_predictor_68_face_landmarks.dat``
(http://dlib.net/files/shape_predictor_68_face_landmarks.dat.bz2, unpacked with ``bunzip2``).
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from dfdet.errors import DfdetError

PREDICTOR_URL = "http://dlib.net/files/shape_predictor_68_face_landmarks.dat.bz2"


class LandmarkBackendError(DfdetError):
    """The 68-point landmark backend cannot be used: dlib is not installed, or its model file is missing."""


def _import_dlib() -> Any:
    try:
        return importlib.import_module("dlib")
    except ImportError as exc:
        raise LandmarkBackendError(
            "68-point landmarks (preprocessor.landmarks68) need dlib, which is not installed: "
            "install the optional extra: uv sync --extra dlib"
        ) from exc


class Dlib68Landmarks:
    """68-point landmarks (iBUG 300-W order: jaw 0-16, brows, nose, eyes, mouth) inside a given face box.

    dlib and the predictor file are checked when the object is built (a missing one fails before any video is
    processed); the predictor itself is loaded on first use, in the process that uses it (pickles without it).

    Args:
        predictor_path: path of ``shape_predictor_68_face_landmarks.dat``.

    Raises:
        LandmarkBackendError: dlib is not installed, or ``predictor_path`` is not a file.
    """

    def __init__(self, predictor_path: str | os.PathLike) -> None:
        _import_dlib()
        path = Path(predictor_path).expanduser()
        if not path.is_file():
            raise LandmarkBackendError(
                f"dlib 68-point predictor not found at {path}: download {PREDICTOR_URL}, unpack it (bunzip2) and "
                "set preprocessor.landmarks68.predictor_path to the .dat file"
            )
        self.predictor_path = str(path)
        self._dlib: Any = None
        self._predictor: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {"predictor_path": self.predictor_path, "_dlib": None, "_predictor": None}

    def _load(self) -> Any:
        if self._predictor is None:
            self._dlib = _import_dlib()
            self._predictor = self._dlib.shape_predictor(self.predictor_path)
        return self._predictor

    def __call__(self, frame: np.ndarray, box: np.ndarray) -> np.ndarray:
        """Landmarks of the face in ``box``.

        Args:
            frame: RGB uint8 (H, W, 3).
            box: (4,) ``x1, y1, x2, y2`` in frame pixels.

        Returns:
            (68, 2) float32 ``x, y`` in frame pixels.
        """
        predictor = self._load()
        x1, y1, x2, y2 = (int(round(float(v))) for v in box)
        rect = self._dlib.rectangle(x1, y1, x2, y2)
        shape = predictor(np.ascontiguousarray(frame, dtype=np.uint8), rect)
        parts = shape.parts() if hasattr(shape, "parts") else shape
        points = np.array([[p.x, p.y] for p in parts], dtype=np.float32)
        if points.shape != (68, 2):
            raise LandmarkBackendError(
                f"{self.predictor_path} gave {len(points)} landmarks, not 68: use shape_predictor_68_face_landmarks.dat"
            )
        return points
