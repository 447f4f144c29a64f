"""What an evaluation adds about its own numbers: bootstrap intervals, the test set's size, a reliability diagram."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from dfdet.metrics.bootstrap import bootstrap_ci, class_counts, default_metrics, small_test_set
from dfdet.metrics.calibration import reliability_table
from dfdet.metrics.functional import aggregate_by_video


def video_uncertainty(
    rows: dict[str, torch.Tensor],
    threshold: float,
    aggregation: str = "mean",
    top_k: int = 5,
    speakers: np.ndarray | None = None,
    n: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, Any]:
    """Bootstrap intervals of the video-level AUC, EER and accuracy, and whether the test set is too small.

    Videos (utterances for audio) are resampled, never frames; with ``speakers`` the videos of one speaker are
    resampled together (:func:`~dfdet.metrics.bootstrap.bootstrap_ci`).

    Args:
        rows: ``preds``, ``target``, ``video_idx`` (N,) as :class:`~dfdet.metrics.DetectionMetrics` keeps them.
        threshold: the decision threshold of the accuracy.
        aggregation, top_k: how frame scores become video scores.
        speakers: the speaker of each ``video_idx`` (index into it), or None.
        n, seed, level: bootstrap replicates, their seed, the interval's coverage.

    Returns:
        ``video_auc_ci``, ``video_eer_ci``, ``video_acc_ci`` as ``[low, high]``, ``ci_level``, ``ci_replicates``,
        ``ci_resampled`` (``videos`` or ``speakers``), ``real_videos``, ``fake_videos`` and ``small_test_set``
        (fewer than :data:`~dfdet.metrics.bootstrap.MIN_PER_CLASS` videos of either class).
    """
    video_p, video_y, video_ids = aggregate_by_video(
        rows["preds"].double(), rows["target"], rows["video_idx"], method=aggregation, top_k=top_k
    )
    groups = video_ids.numpy() if speakers is None else np.asarray(speakers, dtype=object)[video_ids.numpy()]
    ci = bootstrap_ci(video_p, video_y, groups, default_metrics(threshold), n=n, seed=seed, level=level)
    real, fake = class_counts(video_y)
    return {
        **{f"video_{name}_ci": [low, high] for name, (low, high) in ci.items()},
        "ci_level": level,
        "ci_replicates": n,
        "ci_resampled": "videos" if speakers is None else "speakers",
        "real_videos": real,
        "fake_videos": fake,
        "small_test_set": small_test_set(real, fake) is not None,
    }


def flat(summary: dict[str, Any], prefix: str) -> dict[str, float]:
    """The numbers of :func:`video_uncertainty` as flat floats for metric tables (``<prefix>video_auc_ci_low``...)."""
    out: dict[str, float] = {}
    for key, value in summary.items():
        if isinstance(value, list):
            out[f"{prefix}{key}_low"], out[f"{prefix}{key}_high"] = float(value[0]), float(value[1])
        elif isinstance(value, bool | int | float):
            out[f"{prefix}{key}"] = float(value)
    return out


def save_reliability(
    rows: dict[str, torch.Tensor], path: Path, aggregation: str = "mean", top_k: int = 5, title: str = ""
) -> Path:
    """Writes the reliability diagram (accuracy against confidence per bin, frames and videos) to ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dfdet.metrics.calibration import expected_calibration_error

    video_p, video_y, _ = aggregate_by_video(rows["preds"], rows["target"], rows["video_idx"], aggregation, top_k)
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, p, y, marker in (
        ("frame", rows["preds"], rows["target"], "o-"),
        (f"video ({aggregation})", video_p, video_y, "s-"),
    ):
        table = reliability_table(p, y)
        used = table[table["count"] > 0]
        ece = expected_calibration_error(p, y)
        ax.plot(used["confidence"], used["accuracy"], marker, label=f"{name}: ECE {ece:.3f}")
    ax.plot([0.5, 1], [0.5, 1], "k:", lw=0.8, label="calibrated")
    ax.set(
        xlim=(0.5, 1),
        ylim=(0, 1),
        xlabel="confidence max(p, 1 - p) (15 bins)",
        ylabel="accuracy of the call at 0.5",
        title=f"{title} reliability".strip(),
    )
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
