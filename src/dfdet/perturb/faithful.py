"""The faithful video sweep: each source video re-encoded with H.264 at a CRF, then its faces cropped again.

``perturb.mode=faithful`` on face data preprocessed from videos (``preprocess.py``; the manifest's ``source_path``
and ``box``): for every CRF, each source video of the split is re-encoded through PyAV
(:func:`~dfdet.perturb.video.reencode_file`), decoded, and the face of every evaluated frame is cut again at the
box found on the original video, with the margin and size the crops were made with (``preprocess.json``). Only
the codec changes what the model sees: reusing the boxes keeps detection out of the comparison and saves running
the detector once per CRF (a face the detector would lose on the compressed video is still scored). The fast mode
(``VC`` on stored crops) encodes each crop alone; this one encodes the whole frame with its motion, as a platform
does.
"""

from __future__ import annotations

import json
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


class FaithfulSweepError(DfdetError):
    """The data cannot be re-encoded at its source (no source videos, boxes or crop settings)."""


class CroppedMedia:
    """The face crops of one CRF by dataset item (what :func:`~dfdet.perturb.sweep.score_items` reads)."""

    def __init__(self, crops: dict[int, np.ndarray]) -> None:
        self.crops = crops

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


def recrop(rows: pd.DataFrame, crf: float, margin: float, size: int, workdir: Path) -> dict[int, np.ndarray]:
    """The crops of ``rows`` (by position) cut from their source videos re-encoded at ``crf``, with the
    preprocessing's :class:`~dfdet.faces.crop.FaceCropper` at the boxes found on the originals. A frame past the
    re-encoded video's end (a container whose frame count changed) takes its last frame."""
    cropper = FaceCropper(margin, size)
    no_landmarks = np.zeros((5, 2), np.float32)
    out: dict[int, np.ndarray] = {}
    for source, group in rows.groupby("source_path", sort=True):
        encoded = workdir / "reencoded.mp4"
        reencode_file(str(source), encoded, crf)
        wanted = {int(i) for i in group["frame_index"]}
        frames = decode_selected(encoded, wanted)
        if not frames:
            raise FaithfulSweepError(f"{source} re-encoded at CRF {crf:g} gave no frames")
        for pos, index, box in zip(group.index, group["frame_index"], group["box"], strict=True):
            frame = frames.get(int(index), frames[max(frames)])
            out[int(pos)] = cropper(frame, np.asarray(box, np.float32), no_landmarks)[0]
    return out


def faithful_media(datamodule: Any, split: str, crfs: Sequence[float]) -> dict[float, CroppedMedia]:
    """For each CRF, every evaluated frame's face cut from its re-encoded source video."""
    margin, size = crop_settings(datamodule.source)
    rows = split_rows(datamodule, split)
    with tempfile.TemporaryDirectory(prefix="dfdet-h264-") as tmp:
        return {float(crf): CroppedMedia(recrop(rows, float(crf), margin, size, Path(tmp))) for crf in crfs}
