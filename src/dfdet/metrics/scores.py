"""Video-level AUC, EER and accuracy of a set of frame scores, with optional bootstrap intervals: the one summary
that perturbation sweeps and breakdowns report for each setting or group."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from dfdet.metrics.bootstrap import bootstrap_ci, class_counts, default_metrics
from dfdet.metrics.functional import aggregate_by_video


def video_scores(
    preds: torch.Tensor,
    target: torch.Tensor,
    video_idx: torch.Tensor,
    threshold: float,
    aggregation: str = "mean",
    top_k: int = 5,
    bootstrap: int = 0,
    seed: int = 0,
) -> dict[str, Any]:
    """``auc``, ``eer``, ``acc`` (at ``threshold``) over videos, with ``real``/``fake`` video counts and, when
    ``bootstrap`` > 0, ``<metric>_ci`` intervals (videos resampled, :func:`~dfdet.metrics.bootstrap.bootstrap_ci`).

    Args:
        preds, target, video_idx: frame fake-probabilities, labels and video ids, (N,) each.
        threshold: decision threshold of the accuracy.
        aggregation, top_k: how frame scores become video scores.
        bootstrap: replicates (0: no intervals).
        seed: seeds the replicates.
    """
    video_p, video_y, _ = aggregate_by_video(preds.double(), target.long(), video_idx.long(), aggregation, top_k)
    p, y = video_p.numpy(), video_y.numpy().astype(np.int64)
    fns = default_metrics(threshold)
    out: dict[str, Any] = {name: fn(p, y) for name, fn in fns.items()}
    real, fake = class_counts(y)
    out.update(real=real, fake=fake)
    if bootstrap > 0 and real and fake:
        for name, (low, high) in bootstrap_ci(p, y, None, fns, n=bootstrap, seed=seed).items():
            out[f"{name}_ci"] = [low, high]
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in out.items()}
