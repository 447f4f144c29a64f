"""Calibration and bootstrap functions: ECE by hand, temperature scaling, the uncertain band, bootstrap intervals."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from dfdet.metrics.bootstrap import bootstrap_ci, default_metrics
from dfdet.metrics.calibration import (
    expected_calibration_error,
    fit_temperature,
    nll,
    reliability_table,
    scale_probability,
    uncertain_band,
    verdict,
)


def test_ece_hand_example() -> None:
    # Two bins of width 0.25 over confidence [0.5, 1]: (0.5, 0.75] holds 0.6 (right), 0.3 (right, conf 0.7) and
    # 0.65 (wrong); (0.75, 1] holds 0.9 (right) and 0.8 (wrong).
    probs = [0.6, 0.3, 0.65, 0.9, 0.8]
    target = [1, 0, 0, 1, 0]
    low_bin = abs(2 / 3 - (0.6 + 0.7 + 0.65) / 3)
    high_bin = abs(1 / 2 - (0.9 + 0.8) / 2)
    expected = 3 / 5 * low_bin + 2 / 5 * high_bin
    assert expected_calibration_error(probs, target, bins=2) == pytest.approx(expected)
    table = reliability_table(probs, target, bins=2)
    assert table["count"].tolist() == [3, 2]


def test_ece_is_zero_when_perfectly_calibrated_and_nan_when_empty() -> None:
    # Confidence 0.75 in one bin and 3 of 4 right: calibrated.
    assert expected_calibration_error([0.75, 0.75, 0.75, 0.25], [1, 1, 0, 0], bins=10) == pytest.approx(0.0)
    assert math.isnan(expected_calibration_error([], []))


def test_temperature_lowers_validation_logloss_of_an_overconfident_model() -> None:
    rng = np.random.default_rng(0)
    target = torch.from_numpy(rng.integers(0, 2, 2000))
    true_logits = (2 * target - 1).double() * 1.0 + torch.from_numpy(rng.normal(0, 1.5, 2000))
    logits = 4.0 * true_logits  # over-confident by a factor of 4
    temperature = fit_temperature(logits, target)
    assert 3.0 < temperature < 5.0
    assert nll(logits, target, temperature) < nll(logits, target) - 0.1
    probs = torch.sigmoid(logits)
    calibrated = torch.sigmoid(logits / temperature)
    assert expected_calibration_error(calibrated, target) < expected_calibration_error(probs, target)


def test_temperature_defaults_to_one_without_both_classes() -> None:
    assert fit_temperature(torch.tensor([1.0, 2.0]), torch.tensor([1, 1])) == 1.0
    assert fit_temperature(torch.zeros(0), torch.zeros(0)) == 1.0


def test_scaled_threshold_keeps_decisions() -> None:
    assert scale_probability(0.5, 3.0) == pytest.approx(0.5)
    logits = torch.linspace(-6, 6, 101).double()
    raw, t, temperature = torch.sigmoid(logits), 0.8, 2.5
    moved = scale_probability(t, temperature)
    assert torch.equal(raw >= t, torch.sigmoid(logits / temperature) >= moved)


def test_uncertain_band_edges() -> None:
    probs = [0.1, 0.2, 0.45, 0.55, 0.6, 0.9]
    assert uncertain_band(probs, [0, 0, 1, 0, 1, 1], 0.5) == (0.45, 0.6)
    # Separable data: no band.
    assert uncertain_band(probs, [0, 0, 0, 1, 1, 1], 0.5) == (0.5, 0.5)
    # No precise fake calls at all: the whole upper side is uncertain.
    assert uncertain_band([0.1, 0.7, 0.8], [0, 1, 0], 0.5) == (0.5, 1.0)


def test_verdicts_in_and_out_of_the_band() -> None:
    band = (0.4, 0.7)
    assert verdict(0.39, 0.5, band) == "real"
    assert verdict(0.4, 0.5, band) == "uncertain"
    assert verdict(0.55, 0.5, band) == "uncertain"
    assert verdict(0.7, 0.5, band) == "fake"
    assert verdict(0.5, 0.5) == "fake" and verdict(0.49, 0.5) == "real"


def _videos(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """n videos of 5 frames each; a video's frames share its label and a video-level offset."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    offsets = rng.normal(0, 1, n) + labels * 1.2
    scores = 1 / (1 + np.exp(-(np.repeat(offsets, 5) + rng.normal(0, 0.3, 5 * n))))
    return scores, np.repeat(labels, 5), np.repeat(np.arange(n), 5)


def test_bootstrap_contains_the_point_estimate_and_narrows_with_more_data() -> None:
    fns = default_metrics(0.5)
    widths = []
    for n in (40, 400):
        preds, target, groups = _videos(n, seed=n)
        ci = bootstrap_ci(preds, target, groups, fns, n=300, seed=1)
        for name, fn in fns.items():
            point = fn(preds, target)
            assert ci[name][0] <= point <= ci[name][1], (name, n)
        widths.append(ci["auc"][1] - ci["auc"][0])
    assert widths[1] < widths[0] / 2


def test_bootstrap_by_group_is_wider_than_by_frame() -> None:
    preds, target, groups = _videos(60, seed=3)
    fns = {"auc": default_metrics(0.5)["auc"]}
    by_video = bootstrap_ci(preds, target, groups, fns, n=300, seed=0)["auc"]
    by_frame = bootstrap_ci(preds, target, None, fns, n=300, seed=0)["auc"]
    assert by_video[1] - by_video[0] > by_frame[1] - by_frame[0]


def test_bootstrap_auc_matches_sklearn_and_is_nan_with_one_class() -> None:
    from sklearn.metrics import roc_auc_score

    preds, target, _ = _videos(30, seed=5)
    assert default_metrics(0.5)["auc"](preds, target) == pytest.approx(roc_auc_score(target, preds))
    ci = bootstrap_ci(np.array([0.2, 0.3]), np.array([1, 1]), None, default_metrics(0.5), n=20)
    assert all(math.isnan(v) for v in ci["auc"])


def test_video_uncertainty_resamples_speakers_and_flags_small_sets() -> None:
    from dfdet.metrics.uncertainty import video_uncertainty

    preds, target, groups = _videos(30, seed=7)
    rows = {"preds": torch.from_numpy(preds), "target": torch.from_numpy(target), "video_idx": torch.from_numpy(groups)}
    by_video = video_uncertainty(rows, 0.5, n=200)
    assert by_video["ci_resampled"] == "videos" and by_video["small_test_set"] is True
    assert by_video["real_videos"] + by_video["fake_videos"] == 30
    speakers = np.array([f"spk{i // 3}" for i in range(30)], dtype=object)  # 3 utterances per speaker
    by_speaker = video_uncertainty(rows, 0.5, speakers=speakers, n=200)
    assert by_speaker["ci_resampled"] == "speakers"
    low, high = by_speaker["video_auc_ci"]
    assert 0 <= low <= high <= 1
