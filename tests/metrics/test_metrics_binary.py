"""Tests for the stateful metrics in dfdet.metrics.binary against scikit-learn references."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
    roc_curve,
)

from dfdet.metrics import (
    FRAME_METRIC_KEYS,
    VIDEO_METRIC_KEYS,
    BinaryEER,
    VideoMetrics,
    binary_eer,
    build_frame_metrics,
)

SEEDS = [0, 1, 2, 3]


def sklearn_eer(preds: np.ndarray, target: np.ndarray) -> float:
    fpr, tpr, _ = roc_curve(target, preds, drop_intermediate=False)
    fnr = 1.0 - tpr
    i = int(np.flatnonzero(fnr - fpr <= 0)[0])
    x0, x1, y0, y1 = fpr[i - 1], fpr[i], fnr[i - 1], fnr[i]
    return float(x0 + (y0 - x0) / ((x1 - x0) - (y1 - y0)) * (x1 - x0))


def sklearn_metrics(preds: np.ndarray, target: np.ndarray, threshold: float) -> dict[str, float]:
    labels = (preds > threshold).astype(int)  # torchmetrics thresholds strictly above
    return {
        "acc": accuracy_score(target, labels),
        "precision": precision_score(target, labels, zero_division=0),
        "recall": recall_score(target, labels, zero_division=0),
        "f1": f1_score(target, labels, zero_division=0),
        "auc": roc_auc_score(target, preds),
        "ap": average_precision_score(target, preds),
        "eer": sklearn_eer(preds, target),
    }


def random_scores(seed: int, n: int = 500) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    target = (torch.rand(n, generator=gen) < 0.4).long()
    preds = (0.7 * torch.rand(n, generator=gen) + 0.3 * target).clamp(0.0, 1.0)
    return preds, target


def assert_close_to_reference(actual: dict[str, torch.Tensor], expected: dict[str, float], prefix: str = "") -> None:
    for key, value in expected.items():
        tol = 1e-3 if key == "eer" else 1e-5
        assert actual[prefix + key].item() == pytest.approx(value, abs=tol), key


@pytest.mark.parametrize("threshold", [0.5, 0.3])
@pytest.mark.parametrize("seed", SEEDS)
def test_frame_metrics_match_sklearn(seed: int, threshold: float) -> None:
    preds, target = random_scores(seed)
    metrics = build_frame_metrics(threshold=threshold)
    for batch_preds, batch_target in zip(preds.split(64), target.split(64), strict=True):
        metrics.update(batch_preds, batch_target)
    result = metrics.compute()
    assert set(result) == set(FRAME_METRIC_KEYS)
    assert_close_to_reference(result, sklearn_metrics(preds.numpy(), target.numpy(), threshold))


def test_frame_metrics_perfect_separation() -> None:
    preds = torch.tensor([0.05, 0.2, 0.4, 0.6, 0.8, 0.99])
    target = torch.tensor([0, 0, 0, 1, 1, 1])
    result = build_frame_metrics()(preds, target)
    assert result["eer"].item() == 0.0
    assert result["auc"].item() == 1.0
    assert result["acc"].item() == 1.0


@pytest.mark.parametrize("label", [0, 1])
def test_frame_metrics_single_class_gives_nan(label: int) -> None:
    preds = torch.rand(16)
    target = torch.full((16,), label)
    result = build_frame_metrics()(preds, target)
    for key in ("auc", "ap", "eer"):
        assert math.isnan(result[key].item()), key
    assert not math.isnan(result["acc"].item())


@pytest.mark.parametrize("seed", SEEDS)
def test_binary_eer_metric_batched_equals_one_shot(seed: int) -> None:
    preds, target = random_scores(seed)
    batched = BinaryEER()
    for batch_preds, batch_target in zip(preds.split(37), target.split(37), strict=True):
        batched.update(batch_preds.reshape(-1, 1), batch_target.reshape(-1, 1))
    one_shot = BinaryEER()
    one_shot.update(preds, target)
    assert torch.equal(batched.compute(), one_shot.compute())
    assert torch.equal(one_shot.compute(), binary_eer(preds, target))
    batched.reset()
    batched.update(preds[:10], target[:10])
    assert torch.equal(batched.compute(), binary_eer(preds[:10], target[:10]))


def random_frames(seed: int, num_videos: int = 60, n: int = 900) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Shuffled frames of videos with sparse ids; scores lean towards the video label."""
    gen = torch.Generator().manual_seed(seed)
    video_idx = torch.randint(num_videos, (n,), generator=gen) * 5 + 11
    video_fake = torch.rand(num_videos * 5 + 11, generator=gen) < 0.5
    target = (video_fake[video_idx] & (torch.rand(n, generator=gen) < 0.9)).long()
    preds = (0.6 * torch.rand(n, generator=gen) + 0.3 * video_fake[video_idx]).clamp(0.0, 1.0)
    return preds, target, video_idx


def pandas_video_reference(
    preds: torch.Tensor, target: torch.Tensor, video_idx: torch.Tensor, method: str, top_k: int, threshold: float
) -> dict[str, float]:
    df = pd.DataFrame({"p": preds.numpy(), "y": target.numpy(), "v": video_idx.numpy()})
    df["conf"] = (df["p"] - 0.5).abs()
    if method == "mean":
        scores = df.groupby("v")["p"].mean()
    elif method == "max":
        scores = df.groupby("v")["p"].max()
    else:
        top = df.sort_values("conf", ascending=False, kind="stable").groupby("v").head(top_k)
        scores = top.groupby("v")["p"].mean()
    labels = df.groupby("v")["y"].max().loc[scores.index]
    return sklearn_metrics(scores.to_numpy(), labels.to_numpy(), threshold)


@pytest.mark.parametrize(("aggregation", "top_k"), [("mean", 5), ("max", 5), ("topk_mean", 3)])
@pytest.mark.parametrize("seed", SEEDS)
def test_video_metrics_match_pandas_and_sklearn(seed: int, aggregation: str, top_k: int) -> None:
    preds, target, video_idx = random_frames(seed)
    metric = VideoMetrics(aggregation=aggregation, top_k=top_k, threshold=0.45)
    for chunk in torch.arange(preds.numel()).split(100):
        metric.update(preds[chunk], target[chunk], video_idx[chunk])
    result = metric.compute()
    assert set(result) == set(VIDEO_METRIC_KEYS)
    expected = pandas_video_reference(preds, target, video_idx, aggregation, top_k, threshold=0.45)
    assert_close_to_reference(result, expected, prefix="video_")


@pytest.mark.parametrize("seed", SEEDS)
def test_video_metrics_batched_equals_one_shot(seed: int) -> None:
    preds, target, video_idx = random_frames(seed)
    order = torch.randperm(preds.numel(), generator=torch.Generator().manual_seed(seed))
    batched = VideoMetrics(aggregation="topk_mean", top_k=4)
    for chunk in order.split(77):
        batched.update(preds[chunk], target[chunk], video_idx[chunk])
    one_shot = VideoMetrics(aggregation="topk_mean", top_k=4)
    one_shot.update(preds, target, video_idx)
    batched_result, one_shot_result = batched.compute(), one_shot.compute()
    for key in VIDEO_METRIC_KEYS:
        torch.testing.assert_close(batched_result[key], one_shot_result[key])


def test_video_metrics_single_class_gives_nan_without_raising() -> None:
    metric = VideoMetrics(aggregation="max")
    metric.update(torch.rand(12), torch.zeros(12, dtype=torch.long), torch.arange(12) // 3)
    result = metric.compute()
    for key in ("video_auc", "video_ap", "video_eer"):
        assert math.isnan(result[key].item()), key
    assert 0.0 <= result["video_acc"].item() <= 1.0


def test_video_metrics_perfect_separation() -> None:
    preds = torch.tensor([0.1, 0.3, 0.2, 0.9, 0.7, 0.8])
    target = torch.tensor([0, 0, 0, 1, 1, 1])
    video_idx = torch.tensor([0, 0, 1, 2, 2, 3])
    metric = VideoMetrics()
    metric.update(preds, target, video_idx)
    result = metric.compute()
    assert result["video_eer"].item() == 0.0
    assert result["video_auc"].item() == 1.0
    assert result["video_f1"].item() == 1.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"aggregation": "median"}, "Unknown"), ({"top_k": 0}, "top_k"), ({"threshold": 1.5}, "threshold")],
)
def test_video_metrics_validates_arguments(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        VideoMetrics(**kwargs)


def test_video_metrics_update_validates_lengths() -> None:
    with pytest.raises(ValueError, match="same length"):
        VideoMetrics().update(torch.rand(4), torch.zeros(4, dtype=torch.long), torch.arange(3))
