"""Calibration: expected calibration error, reliability tables, temperature scaling and the uncertain band.

Pure functions on fake-probabilities (or logits, for the temperature) and labels (1 = fake); see
``docs/calibration.md`` for what is calibrated on what.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

if TYPE_CHECKING:
    import pandas as pd  # imported where used: the ONNX predictor imports this module for verdict()


def _as_numpy(values: Tensor | np.ndarray | list[float]) -> np.ndarray:
    if isinstance(values, Tensor):
        return values.detach().cpu().double().numpy().reshape(-1)
    return np.asarray(values, dtype=np.float64).reshape(-1)


def reliability_table(probs: Tensor | np.ndarray, target: Tensor | np.ndarray, bins: int = 15) -> pd.DataFrame:
    """Equal-width bins of the fake probability: how confident the model was and how often it was right.

    Follows Guo et al. (ICML 2017): each sample's *confidence* is ``max(p, 1 - p)`` and it is *correct* when its
    prediction at 0.5 (fake when ``p >= 0.5``) matches its label. Bins split the confidence range ``[0.5, 1]`` into
    ``bins`` equal intervals ``(lo, hi]`` (the first one includes 0.5).

    Args:
        probs: fake-probabilities (N,) in [0, 1].
        target: labels (N,), 1 = fake.
        bins: number of equal-width confidence bins.

    Returns:
        One row per bin: ``lo``, ``hi``, ``count``, ``confidence`` (mean confidence), ``accuracy`` (fraction
        correct); empty bins have count 0 and nan means.
    """
    import pandas as pd

    p, y = _as_numpy(probs), _as_numpy(target)
    if p.shape != y.shape:
        raise ValueError(f"probs and target differ in length: {p.shape[0]} and {y.shape[0]}")
    confidence = np.maximum(p, 1 - p)
    correct = ((p >= 0.5).astype(np.float64) == y).astype(np.float64)
    edges = np.linspace(0.5, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    rows = []
    for b in range(bins):
        mask = which == b
        n = int(mask.sum())
        rows.append(
            {
                "lo": float(edges[b]),
                "hi": float(edges[b + 1]),
                "count": n,
                "confidence": float(confidence[mask].mean()) if n else math.nan,
                "accuracy": float(correct[mask].mean()) if n else math.nan,
            }
        )
    return pd.DataFrame(rows)


def expected_calibration_error(probs: Tensor | np.ndarray, target: Tensor | np.ndarray, bins: int = 15) -> float:
    """Expected calibration error (ECE) of binary fake-probabilities, Guo et al. (ICML 2017).

    ``ECE = sum_b (n_b / N) * |accuracy_b - confidence_b|`` over the equal-width confidence bins of
    :func:`reliability_table` (confidence ``max(p, 1 - p)``, correctness of the call at 0.5).

    Args:
        probs: fake-probabilities (N,) in [0, 1].
        target: labels (N,), 1 = fake.
        bins: number of bins (15, as Guo et al.).

    Returns:
        The ECE in [0, 1]; nan when there are no samples.

    Example:
        >>> round(expected_calibration_error([0.9, 0.8, 0.3, 0.6], [1, 0, 0, 1], bins=5), 4)
        0.4
    """
    table = reliability_table(probs, target, bins)
    total = int(table["count"].sum())
    if total == 0:
        return math.nan
    used = table[table["count"] > 0]
    return float((used["count"] / total * (used["accuracy"] - used["confidence"]).abs()).sum())


def nll(logits: Tensor, target: Tensor, temperature: float = 1.0) -> float:
    """Mean binary cross-entropy (log-loss) of ``sigmoid(logits / temperature)`` against ``target`` (1 = fake)."""
    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits.double() / temperature, target.double())
    return float(loss)


def fit_temperature(logits: Tensor, target: Tensor, low: float = 0.05, high: float = 20.0) -> float:
    """Temperature scaling (Guo et al., ICML 2017): the scalar ``T > 0`` minimising the log-loss of
    ``sigmoid(logit / T)`` on held-out data.

    The log-loss is convex in ``1 / T``, so a golden-section search over ``log T`` in ``[low, high]`` finds the
    minimum (to 1e-6 in ``log T``). ``T > 1`` softens an over-confident model, ``T < 1`` sharpens an under-confident
    one; the ranking of scores (AUC, EER) never changes.

    Args:
        logits: fake logits (N,) of the validation rows.
        target: labels (N,), 1 = fake.
        low, high: the search range of ``T``.

    Returns:
        The fitted temperature; 1.0 when there are no rows or only one class.
    """
    logits, target = logits.detach().double().reshape(-1), target.detach().double().reshape(-1)
    if logits.numel() == 0 or target.min() == target.max():
        return 1.0
    a, b = math.log(low), math.log(high)
    ratio = (math.sqrt(5) - 1) / 2
    c, d = b - ratio * (b - a), a + ratio * (b - a)
    fc, fd = nll(logits, target, math.exp(c)), nll(logits, target, math.exp(d))
    while b - a > 1e-6:
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - ratio * (b - a)
            fc = nll(logits, target, math.exp(c))
        else:
            a, c, fc = c, d, fd
            d = a + ratio * (b - a)
            fd = nll(logits, target, math.exp(d))
    return math.exp((a + b) / 2)


def scale_probability(p: float, temperature: float) -> float:
    """``sigmoid(logit(p) / temperature)``: a probability (or a threshold on it) moved to the calibrated scale.

    Monotone, so a threshold moved with it keeps every decision; 0.5 stays 0.5.
    """
    p = min(max(float(p), 1e-12), 1 - 1e-12)
    return 1.0 / (1.0 + math.exp(-math.log(p / (1 - p)) / temperature))


def uncertain_band(
    probs: Tensor | np.ndarray, target: Tensor | np.ndarray, threshold: float, precision: float = 0.9
) -> tuple[float, float]:
    """The band ``[low, high)`` around ``threshold`` where validation calls are not precise enough to be made.

    Verdicts read: ``fake`` when ``p >= high``, ``real`` when ``p < low``, ``uncertain`` otherwise. The band is the
    narrowest one whose both sides meet ``precision`` on the given (validation) rows:

    - ``high`` is the smallest cut ``h >= threshold`` (``threshold`` itself or an observed score above it) such that
      the fake calls ``{p >= h}`` have precision (fraction truly fake) at least ``precision``;
    - ``low`` is the largest cut ``l <= threshold`` (``threshold`` itself or an observed score below it) such that
      the real calls ``{p < l}`` have precision (fraction truly real) at least ``precision``.

    A side that never reaches ``precision`` gets the whole range (``high = 1.0``, ``low = 0.0``). When both sides
    already reach it at the threshold the band is empty (``low == high == threshold``): verdicts equal the labels.

    Args:
        probs: fake-probabilities (N,) on the scale the verdict uses (calibrated, per file).
        target: labels (N,), 1 = fake.
        threshold: the decision threshold on the same scale.
        precision: the precision each side's calls must reach.

    Returns:
        ``(low, high)`` with ``0 <= low <= threshold <= high <= 1``.

    Example:
        >>> uncertain_band([0.1, 0.2, 0.45, 0.55, 0.6, 0.9], [0, 0, 1, 0, 1, 1], threshold=0.5, precision=0.9)
        (0.45, 0.6)
    """
    p, y = _as_numpy(probs), _as_numpy(target)
    t = float(threshold)
    high = 1.0
    for cut in [t, *sorted(set(p[p > t].tolist()))]:
        calls = p >= cut
        if calls.any() and y[calls].mean() >= precision:
            high = cut
            break
    low = 0.0
    for cut in [t, *sorted(set(p[p < t].tolist()), reverse=True)]:
        calls = p < cut
        if calls.any() and (1 - y[calls]).mean() >= precision:
            low = cut
            break
    return float(low), float(high)


def verdict(probability: float, threshold: float, band: tuple[float, float] | None = None) -> str:
    """``fake``, ``uncertain`` or ``real`` for a fake probability: ``fake`` at or above the band's top (the threshold
    without a band), ``real`` below its bottom, ``uncertain`` in between."""
    low, high = (threshold, threshold) if band is None else band
    if probability >= high:
        return "fake"
    return "real" if probability < low else "uncertain"
