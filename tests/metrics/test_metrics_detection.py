"""DetectionMetrics: frame and video scores at a threshold, @0.5 companions, padded-row deduplication."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score

from dfdet.metrics import DetectionMetrics


def _data(seed: int, videos: int = 12, frames: int = 5):
    rng = np.random.default_rng(seed)
    labels = np.repeat(rng.integers(0, 2, videos), frames)
    preds = np.clip(labels * 0.3 + rng.uniform(0, 0.7, labels.size), 0, 1)
    return preds, labels, np.repeat(np.arange(videos), frames), np.tile(np.arange(frames), videos)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_sklearn_at_selected_threshold(seed: int) -> None:
    preds, labels, vids, frames = _data(seed)
    metric = DetectionMetrics("mean")
    metric.update(*(torch.as_tensor(a) for a in (preds, labels, vids, frames)))
    out = metric.compute(threshold=0.4)
    assert out["acc"].item() == pytest.approx(accuracy_score(labels, preds > 0.4))
    assert out["acc@0.5"].item() == pytest.approx(accuracy_score(labels, preds > 0.5))
    assert out["auc"].item() == pytest.approx(roc_auc_score(labels, preds))
    assert out["logloss"].item() == pytest.approx(log_loss(labels, preds), abs=1e-5)
    video_scores = preds.reshape(-1, 5).mean(1)
    assert out["video_auc"].item() == pytest.approx(roc_auc_score(labels[::5], video_scores))
    assert out["threshold"].item() == pytest.approx(0.4)


def test_padded_duplicates_count_once() -> None:
    preds, labels, vids, frames = (torch.as_tensor(a) for a in _data(3))
    once, padded = DetectionMetrics(), DetectionMetrics()
    once.update(preds, labels, vids, frames)
    padded.update(preds, labels, vids, frames)
    padded.update(preds[:3], labels[:3], vids[:3], frames[:3])  # a DistributedSampler's padding
    assert len(padded.rows()["preds"]) == len(preds)
    for key, value in once.compute(0.5).items():
        torch.testing.assert_close(padded.compute(0.5)[key], value, equal_nan=True)
