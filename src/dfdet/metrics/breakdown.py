"""Metrics per group of videos: by manipulation method or generator, compression, face size, resolution, or any
manifest column (``evaluate.py breakdown=[method,face_size]``).

A group holding both classes is scored on its own videos. A group of one class (a method's fakes, the reals) is
scored against every video of the other class in the split, as per-attack EERs are (column ``against``), so each
method's AUC says how well its fakes are told from all reals.

Derived columns (when the manifest has no column of that name):

- ``face_size``: the median face box side (``max(x2 - x1, y2 - y1)`` of the manifest's ``box``, source-frame
  pixels) of the video's frames, binned ``<64``, ``64-127``, ``128-255``, ``>=256``.
- ``resolution``: the source video's frame height (probed with PyAV from ``source_path``), or a whole image's
  shorter side, binned ``<=360``, ``361-480``, ``481-720``, ``721-1080``, ``>1080``.
- ``compression``: the source video's bits per pixel per frame (``<0.05``, ``0.05-0.1``, ``0.1-0.2``, ``>=0.2``),
  or an image's JPEG quality estimated from its luminance quantisation table (``q<50``, ``q50-74``, ``q75-89``,
  ``q>=90``; ``lossless`` for PNG and other formats).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dfdet.errors import DfdetError
from dfdet.metrics.bootstrap import default_metrics
from dfdet.metrics.functional import aggregate_by_video

DERIVED = ("face_size", "resolution", "compression")


class BreakdownError(DfdetError):
    """A breakdown column the data cannot give."""


def _bin(value: float, edges: Sequence[float], labels: Sequence[str]) -> str:
    if value is None or not math.isfinite(value):
        return "unknown"
    return labels[int(np.searchsorted(np.asarray(edges), value, side="right"))]


def face_size_bin(side: float) -> str:
    return _bin(side, (64, 128, 256), ("<64", "64-127", "128-255", ">=256"))


def resolution_bin(height: float) -> str:
    return _bin(height, (360.5, 480.5, 720.5, 1080.5), ("<=360", "361-480", "481-720", "721-1080", ">1080"))


@functools.lru_cache(maxsize=4096)
def _video_probe(path: str) -> tuple[float, float]:
    """(frame height, bits per pixel per frame) of a video's first stream; nan where unknown."""
    import av

    try:
        with av.open(path) as container:
            stream = container.streams.video[0]
            h, w = stream.codec_context.height, stream.codec_context.width
            rate = float(stream.average_rate or stream.guessed_rate or 0)
            bits = stream.bit_rate or container.bit_rate
            bpp = bits / (w * h * rate) if bits and rate and w and h else math.nan
            return float(h), float(bpp)
    except Exception:  # noqa: BLE001 - an unreadable source is reported as "unknown", not an error
        return math.nan, math.nan


@functools.lru_cache(maxsize=65536)
def _image_probe(path: str) -> tuple[float, str]:
    """(shorter side, compression label) of an image file from its header."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            side = float(min(img.size))
            tables = getattr(img, "quantization", None)
            if img.format != "JPEG" or not tables:
                return side, "lossless" if img.format in ("PNG", "WEBP", "TIFF", "BMP") else "unknown"
            return side, jpeg_quality_label(estimate_jpeg_quality(list(tables[0])))
    except OSError:
        return math.nan, "unknown"


# The IJG standard luminance table (quality 50) in natural (row-major) order, as Pillow reports tables.
_IJG_LUMA = np.array(
    [[16, 11, 10, 16, 24, 40, 51, 61], [12, 12, 14, 19, 26, 58, 60, 55], [14, 13, 16, 24, 40, 57, 69, 56],
     [14, 17, 22, 29, 51, 87, 80, 62], [18, 22, 37, 56, 68, 109, 103, 77], [24, 35, 55, 64, 81, 104, 113, 92],
     [49, 64, 78, 87, 103, 121, 120, 101], [72, 92, 95, 98, 112, 100, 103, 99]],
    np.float64,
).reshape(-1)  # fmt: skip


def estimate_jpeg_quality(table: Sequence[int]) -> int:
    """The IJG quality (1-100) whose scaled standard luminance table is closest to ``table`` (64 values)."""
    t = np.asarray(table, np.float64)
    best, err = 50, math.inf
    for q in range(1, 101):
        scale = 5000 / q if q < 50 else 200 - 2 * q
        ref = np.clip(np.floor((_IJG_LUMA * scale + 50) / 100), 1, 255)
        e = float(np.abs(ref - t).sum())
        if e < err:
            best, err = q, e
    return best


def jpeg_quality_label(q: int) -> str:
    return "q<50" if q < 50 else "q50-74" if q < 75 else "q75-89" if q < 90 else "q>=90"


def check_columns(manifest: pd.DataFrame, columns: Sequence[str]) -> None:
    """Raises :class:`BreakdownError` for a column neither in ``manifest`` nor derivable from it (before scoring)."""
    for column in columns:
        if column in manifest.columns or column in ("resolution", "compression"):
            continue
        if column == "face_size" and "box" in manifest.columns:
            continue
        available = sorted(c for c in manifest.columns if c not in ("path", "video_idx"))
        raise BreakdownError(f"breakdown column '{column}' is neither a manifest column ({available}) nor one of "
                             f"{list(DERIVED)} with what it needs (face_size needs 'box')")  # fmt: skip


def video_groups(manifest: pd.DataFrame, column: str) -> np.ndarray:
    """The group of each ``video_idx`` (index into the result) for ``column``: the manifest's own column, else a
    derived one (:data:`DERIVED`).

    Raises:
        BreakdownError: neither the manifest nor a derivation gives the column.
    """
    by_video = manifest.groupby("video_idx", sort=True)
    n = int(manifest["video_idx"].max()) + 1
    out = np.full(n, "unknown", dtype=object)
    if column in manifest.columns:
        first = by_video[column].first()
        out[first.index.to_numpy()] = first.astype(str).to_numpy()
        return out
    if column == "face_size" and "box" in manifest.columns:
        sides = manifest["box"].map(lambda b: float(max(b[2] - b[0], b[3] - b[1])) if b is not None else math.nan)
        median = sides.groupby(manifest["video_idx"]).median()
        out[median.index.to_numpy()] = [face_size_bin(v) for v in median.to_numpy()]
        return out
    if column in ("resolution", "compression"):
        first = by_video.first()
        for vid, row in first.iterrows():
            source = row.get("source_path") if "source_path" in first.columns else None
            if isinstance(source, str) and source:
                height, bpp = _video_probe(source)
                out[vid] = resolution_bin(height) if column == "resolution" else _bin(
                    bpp, (0.05, 0.1, 0.2), ("<0.05", "0.05-0.1", "0.1-0.2", ">=0.2"))  # fmt: skip
            else:
                side, label = _image_probe(str(row["path"]))
                out[vid] = resolution_bin(side) if column == "resolution" else label
        return out
    check_columns(manifest, [column])  # names what is missing
    raise BreakdownError(f"breakdown column '{column}' cannot be derived from this manifest")


def group_scores(
    video_p: np.ndarray, video_y: np.ndarray, groups: np.ndarray, threshold: float
) -> list[dict[str, Any]]:
    """AUC, EER and accuracy per group of videos (see the module docstring for one-class groups).

    Args:
        video_p, video_y: video scores and labels (V,).
        groups: the group of each video (V,).
        threshold: decision threshold of the accuracy.
    """
    fns = default_metrics(threshold)
    rows = []
    for value in sorted(set(groups.tolist()), key=str):
        inside = groups == value
        real, fake = int((video_y[inside] == 0).sum()), int((video_y[inside] == 1).sum())
        if real and fake:
            chosen, against = inside, "group"
        elif fake:
            chosen, against = inside | (video_y == 0), "all reals"
        else:
            chosen, against = inside | (video_y == 1), "all fakes"
        p, y = video_p[chosen], video_y[chosen]
        scores = {name: fn(p, y) for name, fn in fns.items()}
        scores["acc"] = fns["acc"](video_p[inside], video_y[inside])  # the group's own calls
        rows.append({"group": str(value), "videos": int(inside.sum()), "real": real, "fake": fake,
                     "against": against, **{k: (None if math.isnan(v) else v) for k, v in scores.items()}})  # fmt: skip
    return rows


def breakdown_report(model: Any, datamodule: Any, columns: list[str], out: Path, split: str) -> dict[str, Any]:
    """Scores the last test epoch of ``model`` per group of each column; writes ``breakdown_<column>.csv`` and
    ``breakdown.md`` into ``out``; returns ``{column: [row, ...]}`` for ``metrics.json``."""
    metric = model.stage_metrics("test")
    rows = model.predictions["test"]
    video_p, video_y, video_ids = aggregate_by_video(
        rows["preds"].double(), rows["target"].long(), rows["video_idx"].long(), metric.aggregation, metric.top_k
    )
    datamodule.setup()
    manifest = datamodule.manifest
    report: dict[str, Any] = {}
    lines = [f"# Breakdown ({split}, video score = {metric.aggregation}, threshold {float(model.threshold):.3f})", ""]
    for column in columns:
        groups = video_groups(manifest, column)[video_ids.numpy()]
        table = group_scores(video_p.numpy(), video_y.numpy().astype(np.int64), groups, float(model.threshold))
        report[column] = table
        pd.DataFrame(table).to_csv(out / f"breakdown_{column}.csv", index=False)
        lines += [f"## {column}", "", "| group | videos | real | fake | scored against | AUC | EER | acc |",
                  "|---|---|---|---|---|---|---|---|"]  # fmt: skip
        for r in table:
            cells = [("n/a" if r[m] is None else f"{r[m]:.4f}") for m in ("auc", "eer", "acc")]
            lines.append(f"| {r['group']} | {r['videos']} | {r['real']} | {r['fake']} | {r['against']} | "
                         + " | ".join(cells) + " |")  # fmt: skip
        lines.append("")
    (out / "breakdown.md").write_text("\n".join(lines))
    return report


__all__ = ["breakdown_report", "check_columns", "estimate_jpeg_quality", "group_scores", "video_groups"]
