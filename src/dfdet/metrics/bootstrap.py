"""Bootstrap confidence intervals that resample independent units (videos, speakers), not frames."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np
import torch
from torch import Tensor

from dfdet.metrics.functional import binary_eer

MetricFn = Callable[[np.ndarray, np.ndarray], float]
MIN_PER_CLASS = 20  # a test set with fewer items of either class is flagged (small_test_set)


def _auc(preds: np.ndarray, target: np.ndarray) -> float:
    """ROC AUC as the Mann-Whitney statistic (ties count one half); nan with one class."""
    from scipy.stats import rankdata

    positives = int(target.sum())
    negatives = len(target) - positives
    if positives == 0 or negatives == 0:
        return math.nan
    ranks = rankdata(preds)
    return float((ranks[target == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def _eer(preds: np.ndarray, target: np.ndarray) -> float:
    return float(binary_eer(torch.from_numpy(preds), torch.from_numpy(target)))


def accuracy_at(threshold: float) -> MetricFn:
    """Accuracy of the calls ``p > threshold`` (as :func:`~dfdet.metrics.functional.binary_scores` counts them)."""

    def acc(preds: np.ndarray, target: np.ndarray) -> float:
        return float(((preds > threshold).astype(np.int64) == target).mean()) if len(preds) else math.nan

    return acc


def default_metrics(threshold: float) -> dict[str, MetricFn]:
    """``auc``, ``eer`` and ``acc`` (at ``threshold``) on fake-probabilities and labels."""
    return {"auc": _auc, "eer": _eer, "acc": accuracy_at(threshold)}


def bootstrap_ci(
    preds: Tensor | np.ndarray,
    target: Tensor | np.ndarray,
    groups: Tensor | np.ndarray | None,
    metric_fns: Mapping[str, MetricFn],
    n: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap intervals of metrics, resampling whole groups with replacement.

    Each of ``n`` replicates draws as many groups as there are, with replacement, and keeps every row of each drawn
    group (a group drawn twice counts twice), so rows that are not independent (frames of one video, utterances of
    one speaker) move together. The interval is the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of the
    replicates whose metric is defined (e.g. an AUC needs both classes).

    Args:
        preds: scores (N,) (fake-probabilities).
        target: labels (N,), 1 = fake.
        groups: the group of each row (N,) (video or speaker ids); None: each row is its own group.
        metric_fns: name -> ``fn(preds, target) -> float``.
        n: bootstrap replicates.
        seed: seeds the replicates' :class:`numpy.random.Generator`.
        level: coverage of the interval.

    Returns:
        name -> ``(low, high)``; ``(nan, nan)`` when no replicate defines the metric.
    """
    p = np.asarray(preds.detach().cpu() if isinstance(preds, Tensor) else preds, dtype=np.float64).reshape(-1)
    y = np.asarray(target.detach().cpu() if isinstance(target, Tensor) else target, dtype=np.int64).reshape(-1)
    g = np.arange(len(p)) if groups is None else np.asarray(groups.cpu() if isinstance(groups, Tensor) else groups)
    _, codes = np.unique(g, return_inverse=True)
    codes = codes.reshape(-1)
    order = np.argsort(codes, kind="stable")
    counts = np.bincount(codes)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rng = np.random.default_rng(seed)
    values: dict[str, list[float]] = {name: [] for name in metric_fns}
    for _ in range(n):
        drawn = rng.integers(0, len(counts), len(counts))
        rows = np.concatenate([order[starts[d] : starts[d] + counts[d]] for d in drawn]) if len(counts) else order
        for name, fn in metric_fns.items():
            value = fn(p[rows], y[rows])
            if math.isfinite(value):
                values[name].append(value)
    alpha = (1 - level) / 2
    return {
        name: (float(np.quantile(v, alpha)), float(np.quantile(v, 1 - alpha))) if v else (math.nan, math.nan)
        for name, v in values.items()
    }


def small_test_set(real: int, fake: int) -> str | None:
    """What to say of a test set with ``real`` and ``fake`` items when either class has fewer than
    :data:`MIN_PER_CLASS`; None when both have enough."""
    if min(real, fake) >= MIN_PER_CLASS:
        return None
    return (f"{real} real and {fake} fake videos (fewer than {MIN_PER_CLASS} of a class); the intervals are wide and "
            "the numbers say little")  # fmt: skip


def class_counts(target: Tensor | np.ndarray) -> tuple[int, int]:
    """Numbers of real and fake items (e.g. videos)."""
    y = np.asarray(target.cpu() if isinstance(target, Tensor) else target).reshape(-1)
    return int((y == 0).sum()), int((y == 1).sum())
