"""Temporal localisation in evaluation: the clip scores of a test epoch placed in time, turned into fake segments per
video, scored with AP@IoU / AR@N against the data's ``fake_segments`` and written in the AV-Deepfake1M challenge
format (``localisation.json``: file -> ``[[score, start, end], ...]``).

Any audio-visual model localises this way: its clips are sliding windows over each video (``clip_len`` sampled
frames every ``clip_stride``), so the joint model (trained with segment labels, ``segment_weight``) and SyncNet give
per-window scores; :func:`~dfdet.metrics.localisation.segments_from_scores` turns them into proposals at a ladder of
thresholds (the model's own and 0.1 ... 0.9), what AR@N rewards.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from dfdet.metrics.localisation import localisation_metrics, segments_from_scores, write_predictions

LADDER = tuple(round(0.1 * k, 1) for k in range(1, 10))  # proposal thresholds besides the model's own


def _segments(text: object) -> list[list[float]] | None:
    try:
        value = json.loads(str(text))
    except ValueError:
        return None  # "nan": a video without segment labels
    return value if isinstance(value, list) else None


def _frame_rates(datamodule: Any, videos: list[int]) -> dict[int, float]:
    rates = datamodule.per_video("fps")
    if rates is not None:
        return {v: float(rates[v]) for v in videos}
    from dfdet.data.audio.io import video_frame_rate

    sources = datamodule.per_video("source_path")
    return {v: float(video_frame_rate(str(sources[v]))) for v in videos} if sources is not None else {}


def clip_windows(
    rows: dict[str, Any], dataset: Any, datamodule: Any
) -> dict[int, tuple[np.ndarray, np.ndarray, float]] | None:
    """Per test video (``video_idx``): its clip scores (C,), clip centres in seconds (C,) and the clip length in
    seconds, from the rows of a test epoch (``preds``, ``video_idx``, ``frame_index`` = the clip's first frame)
    and the audio-visual dataset's clip spans; None when the dataset has no clip spans (not audio-visual)."""
    spans, clips = getattr(dataset, "spans", None), getattr(dataset, "clips", None)
    if spans is None or clips is None:
        return None
    last_of = {(int(c[2]), int(first)): int(last) for (_, first, last), c in zip(spans, clips, strict=True)}
    preds, vids, firsts = (np.asarray(rows[k]) for k in ("preds", "video_idx", "frame_index"))
    rates = _frame_rates(datamodule, sorted({int(v) for v in vids}))
    out = {}
    for v in sorted(rates):
        mask = vids == v
        order = np.argsort(firsts[mask], kind="stable")
        first = firsts[mask][order]
        last = np.array([last_of.get((v, int(f)), int(f)) for f in first])
        fps = rates[v]
        centres = (first + last + 1) / 2 / fps
        out[v] = (preds[mask][order].astype(np.float64), centres, float(np.median(last + 1 - first)) / fps)
    return out


def localisation_report(model: Any, datamodule: Any, split: str, out: Path) -> dict[str, float]:
    """AP@IoU, AR@N and the challenge score of the last test epoch, ``<split>/ap@0.5`` ...; writes
    ``localisation.json`` (the challenge format) into ``out``, keyed by each video's file in the release (the
    manifest's ``source``, e.g. LAV-DF's ``test/000001.mp4``; AV-Deepfake1M's ``file`` is that path without its
    leading ``val/``), or ``dataset/video_id`` for data without one. Empty when the data
    has no segment labels (no ``fake_segments`` column) or the model is not audio-visual."""
    labels = datamodule.per_video("fake_segments")
    if labels is None or "test" not in model.predictions:
        return {}
    windows = clip_windows(model.predictions["test"], datamodule.datasets[split], datamodule)
    if not windows:
        return {}
    names = list(datamodule.video_names())
    sources = datamodule.per_video("source")  # the file in the release, what the challenge files are keyed by
    if sources is not None:
        names = [str(sources[v]) if v < len(sources) and sources[v] else names[v] for v in range(len(names))]
    thresholds = sorted({round(float(model.threshold), 4), *LADDER})
    predictions, truths = {}, {}
    for v, (scores, centres, length) in windows.items():
        truth = _segments(labels[v])
        predictions[names[v]] = segments_from_scores(scores, centres, thresholds, window=length)
        if truth is not None:
            truths[names[v]] = truth
    write_predictions(out / "localisation.json", predictions)
    if not truths:
        return {}
    return {f"{split}/{k}": v for k, v in localisation_metrics(predictions, truths).items()}
