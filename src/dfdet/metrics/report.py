"""Evaluation outputs: the per-frame predictions table, ROC curve and score histograms."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from dfdet.metrics.functional import aggregate_by_video


def predictions_table(rows: dict[str, torch.Tensor], video_names: list[str]) -> pd.DataFrame:
    """One row per scored frame.

    Args:
        rows: ``preds`` (N,) fake-probabilities, ``target`` (N,), ``video_idx`` (N,), ``frame_index`` (N,) as kept by
            :class:`~dfdet.metrics.DetectionMetrics`.
        video_names: ``dataset/video_id`` for each ``video_idx``.

    Returns:
        Columns ``video`` (``dataset/video_id``), ``frame_index``, ``label`` (1 = fake), ``score`` (fake probability),
        sorted by video and frame.
    """
    names = np.asarray(video_names, dtype=object)
    table = pd.DataFrame(
        {
            "video": names[rows["video_idx"].numpy()],
            "frame_index": rows["frame_index"].numpy(),
            "label": rows["target"].numpy().astype(int),
            "score": rows["preds"].numpy().astype(float),
        }
    )
    return table.sort_values(["video", "frame_index"], kind="stable").reset_index(drop=True)


def video_table(table: pd.DataFrame, aggregation: str = "mean", top_k: int = 5) -> pd.DataFrame:
    """Video-level scores of a :func:`predictions_table`.

    Returns:
        Columns ``video``, ``label`` (1 if any frame is fake), ``score`` (the frames' scores aggregated by
        ``aggregation``, see :func:`~dfdet.metrics.functional.aggregate_by_video`), sorted by video.
    """
    categories = pd.Categorical(table["video"])
    scores, labels, ids = aggregate_by_video(
        torch.tensor(table["score"].to_numpy()),
        torch.tensor(table["label"].to_numpy()),
        torch.as_tensor(categories.codes.astype(np.int64)),
        method=aggregation,
        top_k=top_k,
    )
    names = np.asarray(categories.categories, dtype=object)[ids.numpy()]
    return pd.DataFrame({"video": names, "label": labels.numpy().astype(int), "score": scores.numpy()})


def save_roc(curves: list[tuple[str, Any, Any]], path: Path, title: str = "") -> Path:
    """Writes ROC curves into one figure at ``path``.

    Args:
        curves: ``(name, labels, scores)`` per curve (1 = fake); a curve with one class only is left out.
        path: the PNG to write.
        title: the figure title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import roc_auc_score, roc_curve

    fig, ax = plt.subplots(figsize=(5, 5))
    for name, labels, scores in curves:
        if len(set(np.asarray(labels).tolist())) == 2:
            fpr, tpr, _ = roc_curve(labels, scores)
            ax.plot(fpr, tpr, label=f"{name}: AUC {roc_auc_score(labels, scores):.3f}")
    ax.plot([0, 1], [0, 1], "k:", lw=0.8)
    ax.set(
        xlabel="false positive rate (reals called fake)",
        ylabel="true positive rate (fakes caught)",
        title=title.strip(),
    )
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def save_plots(
    table: pd.DataFrame, out_dir: Path, threshold: float, aggregation: str = "mean", top_k: int = 5, title: str = ""
) -> dict[str, Path]:
    """Writes ``roc.png`` (frame and video level) and ``score_hist.png`` (real vs fake scores) into ``out_dir``.

    Args:
        table: output of :func:`predictions_table`.
        out_dir: destination folder.
        threshold: the decision threshold, drawn on the histogram.
        aggregation, top_k: how frame scores become video scores (see ``aggregate_by_video``).
        title: plot title prefix (dataset, model).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    videos = video_table(table, aggregation, top_k)
    paths = {"roc": out_dir / "roc.png", "score_hist": out_dir / "score_hist.png"}
    curves = [("frame", table["label"], table["score"]), (f"video ({aggregation})", videos["label"], videos["score"])]
    save_roc(curves, paths["roc"], title=f"{title} ROC")

    fig, ax = plt.subplots(figsize=(6, 4))
    bins = np.linspace(0, 1, 41)
    for label, name, colour in ((0, "real", "tab:blue"), (1, "fake", "tab:red")):
        ax.hist(
            table.loc[table["label"] == label, "score"],
            bins=bins,  # type: ignore[arg-type]  # matplotlib's stubs omit ndarray bins, which it accepts
            alpha=0.6,
            label=name,
            color=colour,
        )
    ax.axvline(threshold, color="k", ls="--", lw=1, label=f"threshold {threshold:.3f}")
    ax.set(xlabel="fake probability", ylabel="frames", title=f"{title} score distribution".strip())
    ax.legend()
    fig.tight_layout()
    fig.savefig(paths["score_hist"], dpi=100)
    plt.close(fig)
    return paths


def write_report(
    out_dir: Path,
    rows: dict[str, torch.Tensor],
    video_names: list[str],
    threshold: float,
    aggregation: str,
    top_k: int,
    title: str = "",
) -> dict[str, Path]:
    """Writes ``predictions.csv``, ``roc.png`` and ``score_hist.png`` for one evaluated split; returns their paths."""
    table = predictions_table(rows, video_names)
    table.to_csv(out_dir / "predictions.csv", index=False)
    return {
        "predictions": out_dir / "predictions.csv",
        **save_plots(table, out_dir, threshold, aggregation, top_k, title),
    }
