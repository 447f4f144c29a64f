"""The processed folder: per-video results written atomically, and the manifest assembled from them.

Layout of ``data.source.processed_dir``::

    manifest.parquet         assembled from the parts (the file training reads)
    failures.csv             video_id, source, reason: every video that gave no crop
    preprocess.json          the settings these results were made with (a run with other settings is refused)
    crops/<video_id>/<frame_index:06d>.jpg
    parts/<video_id>.parquet one row per crop of one video; written last, so its presence means "video done"
    failed/<video_id>.json   the failure of one video (also counts as done; ``retry_failed=true`` retries)
    tmp/                     work in progress; anything here is incomplete and is discarded

A video's crops are written into ``tmp/`` and renamed into ``crops/<video_id>`` in one step; then its part file is
written to ``tmp/`` and renamed into ``parts/``. A run killed at any moment therefore leaves either a finished video
(crops and part) or nothing that counts: crops without a part are replaced when the video is processed again.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd

from dfdet.errors import DfdetError
from dfdet.preprocess.pipeline import VideoFaces

MANIFEST = "manifest.parquet"
FAILURES = "failures.csv"
SETTINGS = "preprocess.json"
TABLE_COLUMNS = ("dataset", "split", "video_id", "label", "method", "original")


class ProcessedDirError(DfdetError):
    """The processed folder holds results made with other settings, or cannot be written."""


@dataclass
class Assembly:
    """What :meth:`ProcessedStore.assemble` found: manifest rows, failures, and videos still to do."""

    manifest: pd.DataFrame
    failures: pd.DataFrame
    pending: list[str]
    stale: list[str]


class ProcessedStore:
    """Reads and writes one processed folder.

    Args:
        root: ``data.source.processed_dir``.
        image_format: ``jpg`` or ``png``.
        jpeg_quality: JPEG quality (1-100).
    """

    def __init__(self, root: str | os.PathLike, image_format: str = "jpg", jpeg_quality: int = 95) -> None:
        if image_format not in ("jpg", "png"):
            raise ProcessedDirError(f"image_format must be jpg or png, got '{image_format}'")
        self.root = Path(root)
        self.image_format = image_format
        self.jpeg_quality = jpeg_quality

    def part_path(self, video_id: str) -> Path:
        return self.root / "parts" / f"{video_id}.parquet"

    def failure_path(self, video_id: str) -> Path:
        return self.root / "failed" / f"{video_id}.json"

    def crop_dir(self, video_id: str) -> Path:
        return self.root / "crops" / video_id

    def is_done(self, video_id: str, retry_failed: bool = False) -> bool:
        """The video has a part (finished) or, unless ``retry_failed``, a recorded failure."""
        return self.part_path(video_id).is_file() or (not retry_failed and self.failure_path(video_id).is_file())

    def claim(self, settings: dict[str, Any]) -> None:
        """Records ``settings`` in a new folder, or checks that an existing folder was made with the same ones."""
        path = self.root / SETTINGS
        blob = json.loads(json.dumps(settings, sort_keys=True, default=str))
        if path.is_file():
            old = json.loads(path.read_text())
            if old != blob:
                diff = sorted(k for k in set(old) | set(blob) if old.get(k) != blob.get(k))
                raise ProcessedDirError(
                    f"{self.root} holds results made with other settings (differences in: {', '.join(diff)}; see "
                    f"{path}). Use another data.source.processed_dir, or delete that folder to start over."
                )
            return
        self.root.mkdir(parents=True, exist_ok=True)
        _write_atomic(path, json.dumps(blob, indent=2, sort_keys=True).encode(), self.root / "tmp")

    def write_video(self, video_id: str, source: str, faces: VideoFaces) -> int:
        """Writes the crops of one video, then its part file (the "done" marker); returns the number of crops."""
        tmp = self._tmp_dir()
        staged = tmp / "crops"
        staged.mkdir()
        names = []
        for index, crop in zip(faces.frame_indices, faces.crops, strict=True):
            name = f"{int(index):06d}.{self.image_format}"
            params = [cv2.IMWRITE_JPEG_QUALITY, self.jpeg_quality] if self.image_format == "jpg" else []
            ok, data = cv2.imencode(f".{self.image_format}", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR), params)
            if not ok:
                raise ProcessedDirError(f"Cannot encode crop {name} of {video_id}")
            (staged / name).write_bytes(data.tobytes())
            names.append(name)
        final = self.crop_dir(video_id)
        final.parent.mkdir(parents=True, exist_ok=True)
        if final.exists():  # crops of an interrupted earlier attempt (no part file was written)
            shutil.rmtree(final)
        os.replace(staged, final)
        n = len(names)
        part = pd.DataFrame(
            {
                "video_id": [video_id] * n,
                "frame_index": faces.frame_indices.astype(np.int64),
                "path": [f"crops/{video_id}/{name}" for name in names],
                "box": list(faces.boxes.astype(np.float32)),
                "landmarks": list(faces.landmarks.reshape(n, 10).astype(np.float32)),
                "det_score": faces.scores.astype(np.float32),
                "detected": faces.detected.astype(bool),
                "source": [source] * n,
                "num_frames": [int(faces.num_frames)] * n,
            }
        )
        if faces.landmarks68 is not None:
            part["landmarks68"] = list(faces.landmarks68.reshape(n, 136).astype(np.float32))
        path = self.part_path(video_id)
        staged_part = tmp / "part.parquet"
        part.to_parquet(staged_part, index=False)
        path.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staged_part, path)
        self.failure_path(video_id).unlink(missing_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
        return n

    def write_failure(self, video_id: str, source: str, reason: str) -> None:
        """Records that ``video_id`` gave no crop, and why."""
        blob = json.dumps({"video_id": video_id, "source": source, "reason": reason}).encode()
        _write_atomic(self.failure_path(video_id), blob, self.root / "tmp")

    def assemble(self, table: pd.DataFrame) -> Assembly:
        """Collects the parts and failures of the videos of ``table`` (the current selection of the release).

        Labels, splits and methods come from ``table``, not from the parts, so re-assembling after changing a
        split option needs no re-processing. A part made from another source file than the table names is
        counted as stale (to re-process), as is a video with neither part nor failure (pending).
        """
        parts, failures, pending, stale = [], [], [], []
        for row in table.itertuples(index=False):
            part_path = self.part_path(row.video_id)
            if part_path.is_file():
                part = pd.read_parquet(part_path)
                if len(part) and part["source"].iloc[0] != row.source:
                    stale.append(row.video_id)
                    continue
                for col in TABLE_COLUMNS:
                    part[col] = getattr(row, col, "")
                parts.append(part)
            elif self.failure_path(row.video_id).is_file():
                failures.append(json.loads(self.failure_path(row.video_id).read_text()))
            else:
                pending.append(row.video_id)
        columns = [*TABLE_COLUMNS, "frame_index", "path", "box", "landmarks", "det_score", "detected", "source"]
        if any("landmarks68" in part.columns for part in parts):
            columns.append("landmarks68")
        manifest = pd.concat(parts, ignore_index=True)[columns + ["num_frames"]] if parts else pd.DataFrame()
        fail_df = pd.DataFrame(failures, columns=["video_id", "source", "reason"])
        return Assembly(manifest, fail_df, pending, stale)

    def write_outputs(self, assembly: Assembly) -> None:
        """Writes ``manifest.parquet`` and ``failures.csv`` atomically."""
        tmp = self._tmp_dir()
        if not assembly.manifest.empty:
            assembly.manifest.to_parquet(tmp / MANIFEST, index=False)
            os.replace(tmp / MANIFEST, self.root / MANIFEST)
        assembly.failures.to_csv(tmp / FAILURES, index=False)
        os.replace(tmp / FAILURES, self.root / FAILURES)
        shutil.rmtree(tmp, ignore_errors=True)

    def clean_tmp(self) -> None:
        """Deletes leftovers of interrupted runs (call only when no other run writes to this folder)."""
        shutil.rmtree(self.root / "tmp", ignore_errors=True)

    def _tmp_dir(self) -> Path:
        path = self.root / "tmp" / uuid.uuid4().hex
        path.mkdir(parents=True)
        return path


def _write_atomic(path: Path, data: bytes, tmp_root: Path) -> None:
    tmp_root.mkdir(parents=True, exist_ok=True)
    tmp = tmp_root / f"{uuid.uuid4().hex}.tmp"
    tmp.write_bytes(data)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, path)
