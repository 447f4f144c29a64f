"""68-point face landmarks (dlib's shape predictor): fake masks that follow the face contour, and lip aperture.

dlib comes from the ``dlib-bin`` wheel and the model file ``shape_predictor_68_face_landmarks.dat`` from the
``face-recognition-models`` package, both regular dependencies. The file is found with
:func:`importlib.util.find_spec`, without importing that package (its ``__init__`` needs ``pkg_resources``). dlib is
imported only when :class:`Dlib68Landmarks` is built, never when :mod:`dfdet.faces` is imported.

Training-data terms: the predictor was trained on the iBUG 300-W data set, whose licence excludes commercial use; the
dlib-models README (github.com/davisking/dlib-models) says the model therefore can't be used in a commercial product.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from pathlib import Path
from typing import Any

import numpy as np

from dfdet.errors import DfdetError

PREDICTOR_FILE = "shape_predictor_68_face_landmarks.dat"
PREDICTOR_PACKAGE = "face-recognition-models"


class LandmarkBackendError(DfdetError):
    """The 68-point landmark backend cannot be used: dlib is not installed, or its model file is missing."""


def _import_dlib() -> Any:
    try:
        return importlib.import_module("dlib")
    except ImportError as exc:
        raise LandmarkBackendError(
            "68-point landmarks need dlib, which is not installed: reinstall the project's dependencies "
            "(uv sync; the dlib-bin wheel provides it)"
        ) from exc


def packaged_predictor() -> Path | None:
    """``shape_predictor_68_face_landmarks.dat`` of the installed ``face_recognition_models``, or None."""
    try:
        spec = importlib.util.find_spec("face_recognition_models")
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        path = Path(folder) / "models" / PREDICTOR_FILE
        if path.is_file():
            return path
    return None


class Dlib68Landmarks:
    """68-point landmarks (iBUG 300-W order: jaw 0-16, brows, nose, eyes, mouth) inside a given face box.

    dlib and the predictor file are checked when the object is built (a missing one fails before any video is
    processed); the predictor itself is loaded on first use, in the process that uses it (pickles without it).

    Args:
        predictor_path: path of ``shape_predictor_68_face_landmarks.dat``; None: the file shipped by the
            ``face-recognition-models`` package.

    Raises:
        LandmarkBackendError: dlib is not installed, or the predictor file is not found.
    """

    def __init__(self, predictor_path: str | os.PathLike | None = None) -> None:
        _import_dlib()
        path = Path(predictor_path).expanduser() if predictor_path is not None else packaged_predictor()
        if path is None or not path.is_file():
            where = path if path is not None else f"the installed {PREDICTOR_PACKAGE} package"
            raise LandmarkBackendError(
                f"dlib 68-point predictor not found at {where}: reinstall the project's dependencies (uv sync; "
                f"{PREDICTOR_PACKAGE} ships {PREDICTOR_FILE}) or set predictor_path to that file"
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
            frame: RGB or grey uint8 (H, W, 3) or (H, W).
            box: (4,) ``x1, y1, x2, y2`` in frame pixels (dlib's detector convention: a square from the brows to
                the chin; :func:`dlib_box` converts an MTCNN box).

        Returns:
            (68, 2) float32 ``x, y`` in frame pixels.
        """
        predictor = self._load()
        x1, y1, x2, y2 = (int(round(float(v))) for v in box)
        rect = self._dlib.rectangle(x1, y1, x2, y2)
        shape = predictor(np.ascontiguousarray(frame, dtype=np.uint8), rect)
        points = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float32)
        if points.shape != (68, 2):
            raise LandmarkBackendError(
                f"{self.predictor_path} gave {len(points)} landmarks, not 68: use {PREDICTOR_FILE}"
            )
        return points


def dlib_box(box: np.ndarray) -> np.ndarray:
    """An MTCNN box (forehead to chin, taller than wide) as the square box dlib's predictor was trained on.

    dlib's frontal detector frames the face from the brows to the chin: about as wide as MTCNN's box, with the same
    bottom. Returns (4,) float32 ``x1, y1, x2, y2``.
    """
    x1, y1, x2, y2 = (float(v) for v in box)
    side = x2 - x1
    return np.array([x1, y2 - side, x2, y2], np.float32)
