"""Per-attack EER against an sklearn roc_curve reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from audio_helpers import sklearn_eer

from dfdet.metrics import binary_eer
from dfdet.metrics.per_attack import per_attack_eer


@pytest.mark.parametrize("seed", range(5))
def test_eer_matches_sklearn(seed: int) -> None:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 300)
    scores = np.round(rng.normal(labels * rng.uniform(0.3, 2.0), 1.0), 2)  # rounding makes ties
    ours = float(binary_eer(torch.tensor(scores), torch.tensor(labels)))
    assert ours == pytest.approx(sklearn_eer(scores, labels), abs=1e-6)


def test_per_attack_eer_is_each_attack_against_all_bona_fide() -> None:
    rng = np.random.default_rng(0)
    n = 200
    methods = np.array(["real"] * n + ["A01"] * n + ["A02"] * n, dtype=object)
    labels = (methods != "real").astype(int)
    scores = np.concatenate([rng.normal(0, 1, n), rng.normal(3, 1, n), rng.normal(0.5, 1, n)])
    out = per_attack_eer(torch.tensor(scores), torch.tensor(labels), methods)
    assert list(out) == ["A01", "A02"]
    for attack in ("A01", "A02"):
        mask = (methods == "real") | (methods == attack)
        assert out[attack] == pytest.approx(sklearn_eer(scores[mask], labels[mask]), abs=1e-6)
    assert out["A01"] < 0.1 < out["A02"]


def test_per_attack_eer_checks_lengths() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        per_attack_eer(torch.zeros(3), torch.zeros(3), ["real"])
