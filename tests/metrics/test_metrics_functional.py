"""Tests for dfdet.metrics.functional against scikit-learn and pandas references."""

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
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
    roc_curve,
)

from dfdet.metrics import aggregate_by_video, binary_eer, binary_eer_threshold, binary_scores

SEEDS = [0, 1, 2, 3, 4]


def sklearn_eer(preds: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    """EER and its threshold from sklearn's ROC, interpolated where FNR - FPR changes sign."""
    fpr, tpr, thresholds = roc_curve(target, preds, drop_intermediate=False)
    thresholds = np.where(np.isinf(thresholds), 1.0, thresholds)  # sklearn starts at +inf, torchmetrics at 1
    fnr = 1.0 - tpr
    gap = fnr - fpr
    i = int(np.flatnonzero(gap <= 0)[0])
    x0, x1, y0, y1 = fpr[i - 1], fpr[i], fnr[i - 1], fnr[i]
    # Segment (x0, y0) -> (x1, y1) meets the line FPR == FNR at fraction t.
    t = (y0 - x0) / ((x1 - x0) - (y1 - y0))
    return float(x0 + t * (x1 - x0)), float(thresholds[i - 1] + t * (thresholds[i] - thresholds[i - 1]))


def random_scores(seed: int, n: int = 300, ties: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    target = (torch.rand(n, generator=gen) < 0.4).long()
    preds = (torch.rand(n, generator=gen) + 0.4 * target).clamp(max=1.0)
    if ties:
        preds = torch.round(preds * 10) / 10
    return preds, target


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("seed", SEEDS)
def test_binary_eer_matches_sklearn(seed: int, ties: bool) -> None:
    preds, target = random_scores(seed, ties=ties)
    expected_eer, expected_threshold = sklearn_eer(preds.numpy(), target.numpy())
    eer = binary_eer(preds, target)
    assert eer.ndim == 0 and eer.is_floating_point()
    assert eer.item() == pytest.approx(expected_eer, abs=1e-3)
    assert binary_eer_threshold(preds, target).item() == pytest.approx(expected_threshold, abs=1e-3)


@pytest.mark.parametrize("seed", SEEDS)
def test_binary_eer_threshold_balances_error_rates(seed: int) -> None:
    preds, target = random_scores(seed, n=2000)
    threshold = binary_eer_threshold(preds, target)
    fake = preds >= threshold
    fpr = (fake & (target == 0)).sum() / (target == 0).sum()
    fnr = (~fake & (target == 1)).sum() / (target == 1).sum()
    eer = binary_eer(preds, target)
    assert abs(fpr.item() - eer.item()) < 0.01
    assert abs(fnr.item() - eer.item()) < 0.01


def test_binary_eer_perfect_and_inverted() -> None:
    preds = torch.tensor([0.1, 0.2, 0.3, 0.7, 0.8, 0.9])
    target = torch.tensor([0, 0, 0, 1, 1, 1])
    assert binary_eer(preds, target).item() == 0.0
    assert 0.3 <= binary_eer_threshold(preds, target).item() <= 0.7
    assert binary_eer(1 - preds, target).item() == 1.0


def test_binary_eer_accepts_any_shape_and_float64() -> None:
    preds, target = random_scores(0, n=60)
    flat = binary_eer(preds, target)
    assert torch.allclose(binary_eer(preds.reshape(6, 10), target.reshape(6, 10)), flat)
    assert binary_eer(preds.double(), target).dtype == torch.float64


@pytest.mark.parametrize("label", [0, 1])
def test_binary_eer_single_class_is_nan(label: int) -> None:
    preds = torch.rand(20)
    target = torch.full((20,), label)
    assert math.isnan(binary_eer(preds, target).item())
    assert math.isnan(binary_eer_threshold(preds, target).item())


def test_binary_eer_shape_mismatch_raises() -> None:
    with pytest.raises(ValueError, match="same shape"):
        binary_eer(torch.rand(5), torch.zeros(4, dtype=torch.long))


def pandas_aggregate(preds: torch.Tensor, target: torch.Tensor, video_idx: torch.Tensor, method: str, top_k: int):
    df = pd.DataFrame({"p": preds.numpy(), "y": target.numpy(), "v": video_idx.numpy()})
    groups = df.groupby("v", sort=True)
    if method == "mean":
        scores = groups["p"].mean()
    elif method == "max":
        scores = groups["p"].max()
    else:
        df["conf"] = (df["p"] - 0.5).abs()
        top = df.sort_values("conf", ascending=False, kind="stable").groupby("v", sort=True).head(top_k)
        scores = top.groupby("v", sort=True)["p"].mean()
    return scores.to_numpy(), groups["y"].max().to_numpy(), scores.index.to_numpy()


def random_frames(seed: int, n: int = 400, num_videos: int = 40) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Shuffled frames of videos with sparse ids, uneven lengths and some partially fake videos."""
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randperm(10 * num_videos, generator=gen)[:num_videos] * 3 + 7
    video_idx = ids[torch.randint(num_videos, (n,), generator=gen) ** 2 // num_videos]  # skewed video lengths
    video_fake = (torch.rand(10 * num_videos * 3 + 7, generator=gen) < 0.5).long()
    target = video_fake[video_idx] * (torch.rand(n, generator=gen) < 0.8).long()
    preds = torch.rand(n, generator=gen)
    return preds, target, video_idx


@pytest.mark.parametrize(
    ("method", "top_k"), [("mean", 5), ("max", 5), ("topk_mean", 1), ("topk_mean", 3), ("topk_mean", 1000)]
)
@pytest.mark.parametrize("seed", SEEDS)
def test_aggregate_by_video_matches_pandas(seed: int, method: str, top_k: int) -> None:
    preds, target, video_idx = random_frames(seed)
    video_preds, video_target, video_ids = aggregate_by_video(preds, target, video_idx, method=method, top_k=top_k)
    exp_preds, exp_target, exp_ids = pandas_aggregate(preds, target, video_idx, method, top_k)
    np.testing.assert_array_equal(video_ids.numpy(), exp_ids)
    np.testing.assert_array_equal(video_target.numpy(), exp_target)
    np.testing.assert_allclose(video_preds.numpy(), exp_preds, rtol=1e-5, atol=1e-6)
    assert video_target.dtype == target.dtype and video_ids.dtype == video_idx.dtype


def test_topk_mean_uses_most_confident_frames() -> None:
    preds = torch.tensor([0.55, 0.05, 0.95, 0.6, 0.45])
    video_idx = torch.zeros(5, dtype=torch.long)
    video_preds, _, _ = aggregate_by_video(preds, torch.zeros(5, dtype=torch.long), video_idx, "topk_mean", top_k=2)
    assert video_preds.item() == pytest.approx(0.5)  # mean of 0.05 and 0.95


def test_video_is_fake_if_any_frame_is_fake() -> None:
    preds = torch.tensor([0.1, 0.2, 0.3, 0.4])
    target = torch.tensor([0, 1, 0, 0])
    video_idx = torch.tensor([5, 5, 2, 2])
    _, video_target, video_ids = aggregate_by_video(preds, target, video_idx)
    assert video_ids.tolist() == [2, 5]
    assert video_target.tolist() == [0, 1]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"video_idx": torch.zeros(3, dtype=torch.long)}, "same length"),
        ({"preds": torch.rand(4, 1)}, "1-D"),
        ({"method": "median"}, "Unknown aggregation"),
        ({"top_k": 0}, "top_k"),
        ({"video_idx": torch.zeros(4)}, "integer"),
    ],
)
def test_aggregate_by_video_validates(kwargs: dict, match: str) -> None:
    args = {"preds": torch.rand(4), "target": torch.zeros(4, dtype=torch.long), "video_idx": torch.arange(4)}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        aggregate_by_video(**args)


@pytest.mark.parametrize("threshold", [0.5, 0.3])
@pytest.mark.parametrize("seed", SEEDS)
def test_binary_scores_match_sklearn(seed: int, threshold: float) -> None:
    preds, target = random_scores(seed)
    p, y = preds.numpy(), target.numpy()
    called = (p > threshold).astype(int)  # a sample is fake strictly above the threshold
    expected = {
        "acc": accuracy_score(y, called),
        "precision": precision_score(y, called, zero_division=0),
        "recall": recall_score(y, called, zero_division=0),
        "f1": f1_score(y, called, zero_division=0),
        "auc": roc_auc_score(y, p),
        "ap": average_precision_score(y, p),
        "eer": sklearn_eer(p, y)[0],
        "logloss": log_loss(y, np.clip(p, 1e-7, 1 - 1e-7)),
    }
    scores = binary_scores(preds, target, threshold)
    assert set(scores) == set(expected)
    for key, value in expected.items():
        assert scores[key].item() == pytest.approx(value, abs=1e-3 if key == "eer" else 1e-5), key


def test_binary_scores_perfect_separation() -> None:
    scores = binary_scores(torch.tensor([0.05, 0.2, 0.4, 0.6, 0.8, 0.99]), torch.tensor([0, 0, 0, 1, 1, 1]))
    assert {key: scores[key].item() for key in ("acc", "f1", "auc", "ap", "eer")} == {
        "acc": 1.0,
        "f1": 1.0,
        "auc": 1.0,
        "ap": 1.0,
        "eer": 0.0,
    }


@pytest.mark.parametrize("label", [0, 1])
def test_binary_scores_single_class_gives_nan_for_ranking_metrics(label: int) -> None:
    preds = torch.tensor([0.1, 0.7, 0.2, 0.9])
    scores = binary_scores(preds, torch.full((4,), label))
    for key in ("auc", "ap", "eer"):
        assert math.isnan(scores[key].item()), key
    assert scores["acc"].item() == pytest.approx(0.5)  # two of four above 0.5, whichever the class
