"""Temporal localisation of fake segments: per-window scores to segments, the challenge format, AP@IoU and AR@N.

The benchmarks of partially manipulated media (LAV-DF, Cai et al. 2022; AV-Deepfake1M, Cai et al. 2024; the
1M-Deepfakes challenge; PartialSpoof for speech) score *where* a file is fake: a detector proposes segments
``[confidence, start, end]`` (seconds) per file, and is measured by

- **AP@IoU** (thresholds 0.5, 0.75, 0.9, 0.95): the proposals of all files pooled and sorted by confidence
  (descending); within a file each ground-truth segment claims the highest-confidence unclaimed proposal whose IoU
  with it exceeds the threshold (strictly), the claimed proposals are true positives, all others false positives;
  AP is the area under the precision-recall curve with precision interpolated as the maximum at any higher recall
  (ActivityNet's all-point interpolation), recall over all ground-truth segments.
- **AR@N** (N = 50, 30, 20, 10, 5): per file the N most confident proposals; a ground-truth segment is recalled at
  an IoU threshold when one of them overlaps it by more than the threshold (no one-to-one matching); recall pooled
  over files (recalled / all segments) and averaged over the IoU thresholds 0.5, 0.55, ..., 0.95.
- the challenge **score**: 0.5 * mean AP + 0.5 * mean AR.

Written from the papers' definitions and checked against the public evaluator of the AV-Deepfake1M repository
(``avdeepfake1m.evaluation.ap_ar_1d``; read, not run: its package is not installed here). Its AP integrates the
curve from the first pooled proposal's recall up, leaving out the step from recall 0 to there (negligible on a
benchmark, large on a handful of files); ``interpolation="avdeepfake1m"`` reproduces that, the default includes it.
Its per-file matching takes proposals in the order the file lists them; here they are sorted by confidence first
(the same for sorted lists, which the challenge format asks for).

Example:
    >>> truth = {"a.mp4": [[1.0, 2.0]], "b.mp4": []}
    >>> preds = {"a.mp4": [[0.9, 1.0, 2.1], [0.4, 5.0, 6.0]], "b.mp4": [[0.6, 0.0, 1.0]]}
    >>> round(average_precision(preds, truth, (0.5,))[0.5], 4)  # TP at 0.9, FP at 0.6: precision 1 at recall 1
    1.0
    >>> average_recall(preds, truth, (1,), (0.5,))[1]
    1.0
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from dfdet.errors import DfdetError

AP_IOU_THRESHOLDS: tuple[float, ...] = (0.5, 0.75, 0.9, 0.95)
AR_PROPOSALS: tuple[int, ...] = (50, 30, 20, 10, 5)
AR_IOU_THRESHOLDS: tuple[float, ...] = tuple(round(0.5 + 0.05 * i, 2) for i in range(10))
INTERPOLATIONS = ("all_points", "avdeepfake1m")

Proposals = Mapping[str, Sequence[Sequence[float]]]  # file -> [[confidence, start, end], ...] (seconds)
Truths = Mapping[str, Sequence[Sequence[float]]]  # file -> [[start, end], ...] (seconds)


class PredictionFormatError(DfdetError):
    """A localisation prediction file or entry that is not ``{file: [[score, start, end], ...]}``."""


def iou_1d(proposals: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """IoU of time intervals.

    Args:
        proposals: (P, 2) ``[start, end]``.
        targets: (G, 2) ``[start, end]``.

    Returns:
        (P, G) intersection over union (the union is the hull, as for intervals that overlap; 0 for disjoint ones).
    """
    p = np.asarray(proposals, np.float64).reshape(-1, 2)
    g = np.asarray(targets, np.float64).reshape(-1, 2)
    inter = np.clip(np.minimum(p[:, None, 1], g[None, :, 1]) - np.maximum(p[:, None, 0], g[None, :, 0]), 0, None)
    hull = np.maximum(p[:, None, 1], g[None, :, 1]) - np.minimum(p[:, None, 0], g[None, :, 0])
    return np.divide(inter, hull, out=np.zeros_like(inter), where=hull > 0)


def _sorted(rows: Sequence[Sequence[float]]) -> np.ndarray:
    """(P, 3) proposals sorted by confidence, descending (stable)."""
    array = np.asarray(rows, np.float64).reshape(-1, 3)
    return array[np.argsort(-array[:, 0], kind="stable")]


def _segments(rows: Sequence[Sequence[float]]) -> np.ndarray:
    return np.asarray(rows, np.float64).reshape(-1, 2)


def _match(proposals: np.ndarray, truth: np.ndarray, threshold: float) -> np.ndarray:
    """True-positive flags (P,) of one file's sorted proposals: each truth segment in turn claims the first (most
    confident) unclaimed proposal with IoU > threshold."""
    tp = np.zeros(len(proposals), bool)
    if len(truth) == 0 or len(proposals) == 0:
        return tp
    hits = iou_1d(proposals[:, 1:], truth) > threshold
    for g in range(len(truth)):
        for p in np.flatnonzero(hits[:, g] & ~tp):
            tp[p] = True
            break
    return tp


def _area(recall: np.ndarray, precision: np.ndarray, interpolation: str) -> float:
    """Area under the precision-recall curve, precision interpolated as the maximum at any higher recall."""
    if len(recall) == 0:
        return 0.0
    best = np.maximum.accumulate(precision[::-1])[::-1]  # max precision at this recall or any higher one
    start = recall[0] if interpolation == "avdeepfake1m" else 0.0
    widths = np.diff(np.concatenate([[start], recall]))
    return float(np.sum(widths * best))


def average_precision(
    predictions: Proposals,
    truths: Truths,
    iou_thresholds: Sequence[float] = AP_IOU_THRESHOLDS,
    interpolation: str = "all_points",
) -> dict[float, float]:
    """AP@IoU over the files of ``truths`` (see the module docstring).

    Args:
        predictions: file -> proposals ``[confidence, start, end]``; a file without an entry has none.
        truths: file -> ground-truth fake segments ``[start, end]`` (empty for real files, which still count:
            their proposals are false positives).
        iou_thresholds: thresholds (a proposal matches when IoU > threshold).
        interpolation: ``all_points`` (from recall 0) or ``avdeepfake1m`` (as that evaluator integrates).

    Returns:
        threshold -> AP in [0, 1] (0 when there is no ground-truth segment).
    """
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"interpolation must be one of {INTERPOLATIONS}, got {interpolation!r}")
    files = [(_sorted(predictions.get(f, [])), _segments(t)) for f, t in truths.items()]
    n_truth = sum(len(t) for _, t in files)
    result = {}
    for threshold in iou_thresholds:
        conf = np.concatenate([p[:, 0] for p, _ in files]) if files else np.zeros(0)
        tp = np.concatenate([_match(p, t, threshold) for p, t in files]) if files else np.zeros(0, bool)
        order = np.argsort(-conf, kind="stable")
        hits = np.cumsum(tp[order])
        if n_truth == 0:
            result[float(threshold)] = 0.0
            continue
        precision = hits / np.arange(1, len(hits) + 1)
        result[float(threshold)] = _area(hits / n_truth, precision, interpolation)
    return result


def average_recall(
    predictions: Proposals,
    truths: Truths,
    n_proposals: Sequence[int] = AR_PROPOSALS,
    iou_thresholds: Sequence[float] = AR_IOU_THRESHOLDS,
) -> dict[int, float]:
    """AR@N over the files of ``truths`` (see the module docstring).

    Returns:
        N -> recall averaged over ``iou_thresholds`` (0 when there is no ground-truth segment).
    """
    recalled = np.zeros((len(iou_thresholds), len(n_proposals)))
    n_truth = 0
    for file, rows in truths.items():
        truth = _segments(rows)
        n_truth += len(truth)
        proposals = _sorted(predictions.get(file, []))
        if len(truth) == 0 or len(proposals) == 0:
            continue
        best = np.maximum.accumulate(iou_1d(proposals[:, 1:], truth), axis=0)  # (P, G): best IoU of the top p+1
        for j, n in enumerate(n_proposals):
            top = best[min(int(n), len(proposals)) - 1]
            recalled[:, j] += [(top > t).sum() for t in iou_thresholds]
    recall = recalled / n_truth if n_truth else recalled
    return {int(n): float(recall[:, j].mean()) for j, n in enumerate(n_proposals)}


def localisation_metrics(
    predictions: Proposals,
    truths: Truths,
    ap_iou_thresholds: Sequence[float] = AP_IOU_THRESHOLDS,
    ar_proposals: Sequence[int] = AR_PROPOSALS,
    interpolation: str = "all_points",
) -> dict[str, float]:
    """AP@IoU, AR@N and the challenge score in one flat dict: ``ap@0.5``, ..., ``ar@50``, ..., ``score``."""
    ap = average_precision(predictions, truths, ap_iou_thresholds, interpolation)
    ar = average_recall(predictions, truths, ar_proposals)
    out = {f"ap@{t:g}": v for t, v in ap.items()} | {f"ar@{n}": v for n, v in ar.items()}
    out["score"] = 0.5 * float(np.mean(list(ap.values()))) + 0.5 * float(np.mean(list(ar.values())))
    return out


def segments_from_scores(
    scores: Sequence[float] | np.ndarray,
    times: Sequence[float] | np.ndarray,
    thresholds: Sequence[float] = (0.5,),
    window: float | None = None,
    merge_gap: float = 0.0,
    min_length: float = 0.0,
) -> list[list[float]]:
    """Fake segments from per-window fake probabilities: runs above each threshold, merged across short gaps.

    Each window ``i`` covers ``[times[i] - window / 2, times[i] + window / 2]``; a run of consecutive windows at or
    above a threshold becomes one segment from its first window's start to its last window's end (clipped at 0), and
    runs separated by at most ``merge_gap`` seconds are merged. The confidence of a segment is the mean score of its
    windows. Several thresholds give nested proposals (what AR@N rewards); duplicates are dropped.

    Args:
        scores: (W,) fake probabilities in [0, 1], in time order.
        times: (W,) window centres in seconds, increasing.
        thresholds: score thresholds, each giving its own segments.
        window: window length in seconds; None: the median spacing of ``times`` (1 s for a single window).
        merge_gap: gaps of at most this many seconds between runs are bridged.
        min_length: shorter segments are dropped.

    Returns:
        ``[[confidence, start, end], ...]`` sorted by confidence (descending): the challenge format of one file.
    """
    s = np.asarray(scores, np.float64).reshape(-1)
    t = np.asarray(times, np.float64).reshape(-1)
    if s.shape != t.shape:
        raise ValueError(f"scores and times must have the same length, got {len(s)} and {len(t)}")
    if len(s) == 0:
        return []
    if window is None:
        window = float(np.median(np.diff(t))) if len(t) > 1 else 1.0
    starts, ends = np.maximum(t - window / 2, 0.0), t + window / 2
    found: dict[tuple[float, float], float] = {}
    for threshold in thresholds:
        runs: list[list[int]] = []
        for i in np.flatnonzero(s >= threshold):
            if runs and (i == runs[-1][1] + 1 or starts[i] - ends[runs[-1][1]] <= merge_gap):
                runs[-1][1] = int(i)
            else:
                runs.append([int(i), int(i)])
        for a, b in runs:
            start, end = round(float(starts[a]), 4), round(float(ends[b]), 4)
            if end - start >= min_length:
                members = s[a : b + 1][s[a : b + 1] >= threshold] if merge_gap > 0 else s[a : b + 1]
                found.setdefault((start, end), float(members.mean()))
    rows = [[conf, start, end] for (start, end), conf in found.items()]
    return sorted(rows, key=lambda r: -r[0])


def check_predictions(predictions: object, where: str = "predictions") -> dict[str, list[list[float]]]:
    """The challenge format, validated: ``{file: [[score, start, end], ...]}`` with finite numbers, start <= end.

    Raises:
        PredictionFormatError: naming the first bad entry.
    """
    if not isinstance(predictions, Mapping):
        raise PredictionFormatError(f"{where}: expected a JSON object file -> [[score, start, end], ...]")
    out = {}
    for file, rows in predictions.items():
        if not isinstance(rows, list):
            raise PredictionFormatError(f"{where}[{file!r}]: expected a list of [score, start, end]")
        checked = []
        for row in rows:
            ok = isinstance(row, list | tuple) and len(row) == 3
            values = [float(v) for v in row] if ok and all(isinstance(v, int | float) for v in row) else []
            if not values or not all(math.isfinite(v) for v in values) or values[1] > values[2]:
                raise PredictionFormatError(f"{where}[{file!r}]: {row!r} is not [score, start, end] with start <= end")
            checked.append(values)
        out[str(file)] = checked
    return out


def write_predictions(path: str | os.PathLike, predictions: Proposals) -> Path:
    """Writes the AV-Deepfake1M challenge file: one JSON object, file -> ``[[score, start, end], ...]``."""
    path = Path(path)
    checked = check_predictions(dict(predictions))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(checked))
    os.replace(tmp, path)
    return path


def read_predictions(path: str | os.PathLike) -> dict[str, list[list[float]]]:
    """Reads and validates a challenge file written by :func:`write_predictions` (or by any other detector)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise PredictionFormatError(f"{path}: cannot read a JSON prediction file ({exc})") from None
    return check_predictions(data, str(path))
