"""The faithful video sweep: each source video re-encoded with H.264 at a CRF, then its faces cropped again.

``perturb.mode=faithful`` on face data preprocessed from videos (``preprocess.py``; the manifest's ``source_path``
and ``box``): for every CRF, each source video of the split is re-encoded through PyAV
(:func:`~dfdet.perturb.video.reencode_file`), decoded, and the faces of every evaluated frame are detected again on
the re-encoded frame (``perturb.redetect=true``, the default: compression acts before face detection, as on a
platform); the detected face that overlaps the original box most (IoU at least 0.3) is cut with the margin and size
the crops were made with (``preprocess.json``). A face the detector loses on the compressed frame is counted
(``faces_lost`` per CRF in the sweep's log) and cut at its original box, so every item keeps a score.
``perturb.redetect=false`` reuses the original boxes (detection out of the comparison; no detector run per CRF). The
fast mode (``VC`` on stored crops) encodes each crop alone; this one encodes the whole frame with its motion.
"""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dfdet.data.manifest import split_frames
from dfdet.errors import DfdetError
from dfdet.faces.crop import FaceCropper
from dfdet.perturb.video import decode_selected, reencode_file

log = logging.getLogger("dfdet.perturb")


class FaithfulSweepError(DfdetError):
    """The data cannot be re-encoded at its source (no source videos, boxes or crop settings)."""


class CroppedMedia:
    """The face crops of one CRF by dataset item (what :func:`~dfdet.perturb.sweep.score_items` reads)."""

    def __init__(self, crops: dict[int, np.ndarray], faces_lost: int = 0) -> None:
        self.crops = crops
        self.faces_lost = faces_lost

    def get(self, i: int) -> np.ndarray:
        return self.crops[i]


def crop_settings(source: Any) -> tuple[float, int]:
    """(margin, size) of the stored crops, from the processed folder's ``preprocess.json``."""
    path = Path(getattr(source, "processed_dir", "")) / "preprocess.json"
    try:
        cropper = json.loads(path.read_text())["cropper"]
        return float(cropper["margin"]), int(cropper["size"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise FaithfulSweepError(
            f"perturb.mode=faithful needs the crop settings of preprocess.py ({path}): re-encoding applies to data "
            "preprocessed from videos (data=ffpp|celebdf|dfdc|folder)"
        ) from exc


def split_rows(datamodule: Any, split: str) -> pd.DataFrame:
    """The rows of ``split`` in the order of its dataset's items, checked for what re-cropping needs."""
    rows = split_frames(datamodule.manifest, split)
    missing = [c for c in ("source_path", "box") if c not in rows.columns]
    if missing:
        raise FaithfulSweepError(f"perturb.mode=faithful needs the manifest columns {missing} (preprocess.py writes "
                                 "them); use perturb.mode=fast on stored crops")  # fmt: skip
    if len(rows) != len(datamodule.datasets[split]):
        raise FaithfulSweepError("perturb.mode=faithful scores single frames (a frame model), not clips")
    return rows


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of box ``a`` (4,) with each of ``b`` (K, 4), ``x1, y1, x2, y2``."""
    x1, y1 = np.maximum(a[0], b[:, 0]), np.maximum(a[1], b[:, 1])
    x2, y2 = np.minimum(a[2], b[:, 2]), np.minimum(a[3], b[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = lambda z: (z[..., 2] - z[..., 0]) * (z[..., 3] - z[..., 1])  # noqa: E731
    return inter / np.maximum(area(a) + area(b) - inter, 1e-6)


def recrop(
    rows: pd.DataFrame, crf: float, margin: float, size: int, workdir: Path, detector: Any = None
) -> tuple[dict[int, np.ndarray], int]:
    """The crops of ``rows`` (by position) cut from their source videos re-encoded at ``crf``, with the
    preprocessing's :class:`~dfdet.faces.crop.FaceCropper`: at the face ``detector`` finds again on the re-encoded
    frame (the one overlapping the original box most, IoU >= 0.3), or at the original box without a detector or when
    the face is lost. A frame past the re-encoded video's end (a container whose frame count changed) takes its last
    frame.

    Returns:
        The crops by position, and the number of faces the detector lost.
    """
    cropper = FaceCropper(margin, size)
    no_landmarks = np.zeros((5, 2), np.float32)
    out: dict[int, np.ndarray] = {}
    lost = 0
    for source, group in rows.groupby("source_path", sort=True):
        encoded = workdir / "reencoded.mp4"
        reencode_file(str(source), encoded, crf)
        wanted = {int(i) for i in group["frame_index"]}
        frames = decode_selected(encoded, wanted)
        if not frames:
            raise FaithfulSweepError(f"{source} re-encoded at CRF {crf:g} gave no frames")
        picked = [frames.get(int(index), frames[max(frames)]) for index in group["frame_index"]]
        found = detector.detect(picked) if detector is not None else [None] * len(picked)
        for pos, frame, box, det in zip(group.index, picked, group["box"], found, strict=True):
            box = np.asarray(box, np.float32)
            points = no_landmarks
            if det is not None:
                overlap = box_iou(box, det.boxes) if len(det) else np.zeros(0)
                if len(overlap) and overlap.max() >= 0.3:
                    k = int(overlap.argmax())
                    box, points = det.boxes[k], det.landmarks[k]
                else:
                    lost += 1
            out[int(pos)] = cropper(frame, box, points)[0]
    return out, lost


def faithful_media(
    datamodule: Any, split: str, crfs: Sequence[float], redetect: bool = True
) -> dict[float, CroppedMedia]:
    """For each CRF, every evaluated frame's face cut from its re-encoded source video (detected again there with
    ``redetect``)."""
    margin, size = crop_settings(datamodule.source)
    rows = split_rows(datamodule, split)
    detector = None
    if redetect:
        from dfdet.faces.detector import FaceDetector

        detector = FaceDetector()
    media = {}
    with tempfile.TemporaryDirectory(prefix="dfdet-h264-") as tmp:
        for crf in crfs:
            crops, lost = recrop(rows, float(crf), margin, size, Path(tmp), detector)
            if lost:
                log.warning("H.264 CRF %g: the face detector lost %d of %d faces; they were cut at their original "
                            "boxes", crf, lost, len(rows))  # fmt: skip
            media[float(crf)] = CroppedMedia(crops, lost)
    return media
