"""The challenge metrics against examples worked by hand (the arithmetic is in the comments)."""

from __future__ import annotations

import numpy as np
import pytest

from dfdet.metrics.spoofing import (
    ASVErrors,
    act_dcf,
    asv_errors,
    bona_fide_scores,
    challenge_metrics,
    det_curve,
    min_dcf,
    min_tdcf,
    per_condition_eer,
    pooled_eer,
    spoof_eer,
    tdcf_curve,
)

# CM bona fide scores (higher = bona fide). Sorted: 0.1 s, 0.3 s, 0.4 b, 0.7 b, 0.8 s, 0.9 b.
BONA, SPOOF = np.array([0.9, 0.4, 0.7]), np.array([0.3, 0.8, 0.1])
# (Pmiss, Pfa) after rejecting the k lowest: (0, 1) (0, 2/3) (0, 1/3) (1/3, 1/3) (2/3, 1/3) (2/3, 0) (1, 0)
DET = [(0, 1), (0, 2 / 3), (0, 1 / 3), (1 / 3, 1 / 3), (2 / 3, 1 / 3), (2 / 3, 0), (1, 0)]


def test_det_curve_is_the_official_one() -> None:
    pmiss, pfa, thresholds = det_curve(BONA, SPOOF)
    assert np.allclose(pmiss, [d[0] for d in DET]) and np.allclose(pfa, [d[1] for d in DET])
    assert np.allclose(thresholds, [0.099, 0.1, 0.3, 0.4, 0.7, 0.8, 0.9])


def test_asv_errors_at_the_asv_eer_threshold() -> None:
    # target 3 2 1 0, nontarget -1 0.5 1.5 -2; sorted -2n -1n 0t 0.5n 1t 1.5n 2t 3t: after 4 rejected, Pmiss = Pfa
    # = 1/4, so the threshold is the 4th score, 0.5; accepting >= 0.5 then gives Pmiss 1/4 (0) and Pfa 2/4 (0.5, 1.5)
    asv = asv_errors([3, 2, 1, 0], [-1, 0.5, 1.5, -2], [2.5, 1.2, 0.2, -0.3])
    assert asv.threshold == 0.5 and asv.pmiss == 0.25 and asv.pfa == 0.5 and asv.pfa_spoof == 0.5
    fixed = asv_errors([3, 2, 1, 0], [-1, 0.5, 1.5, -2], [2.5, 1.2, 0.2, -0.3], threshold=1.0)
    assert (fixed.pmiss, fixed.pfa, fixed.pfa_spoof) == (0.25, 0.25, 0.5)


def test_min_tdcf_revised_and_legacy_by_hand() -> None:
    asv = ASVErrors(pfa=0.25, pmiss=0.25, pfa_spoof=0.5, threshold=1.0)
    # C0 = 0.9405 * 1 * 0.25 + 0.0095 * 10 * 0.25 = 0.258875; C1 = 0.9405 - C0 = 0.681625; C2 = 0.05 * 10 * 0.5 = 0.25
    c0, c1, c2 = 0.258875, 0.681625, 0.25
    revised = [(c0 + c1 * m + c2 * f) / (c0 + c2) for m, f in DET]
    curve, _ = tdcf_curve(BONA, SPOOF, asv)
    assert np.allclose(curve, revised) and curve[0] == pytest.approx(1.0)  # accepting everything costs 1
    # the minimum: 2 spoofs rejected, no bona fide: (0.258875 + 0.25 / 3) / 0.508875 = 0.672480
    assert min_tdcf(BONA, SPOOF, asv) == pytest.approx(0.672480, abs=1e-6)
    # the ASVspoof 2019 plan: (C1 Pmiss + C2 Pfa) / min(C1, C2) = (0.25 / 3) / 0.25 = 1/3 at the same point
    assert min_tdcf(BONA, SPOOF, asv, legacy=True) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="check the ASV scores"):  # an ASV that never accepts a spoof: C2 = 0
        min_tdcf(BONA, SPOOF, ASVErrors(0.0, 0.0, 0.0, 0.0))


def test_min_dcf_and_act_dcf_by_hand() -> None:
    # ASVspoof 5: DCF = (0.95 Pmiss + 0.5 Pfa) / min(0.95, 0.5); at (0, 1/3): (0.5 / 3) / 0.5 = 1/3 (the minimum)
    assert min_dcf(BONA, SPOOF) == pytest.approx(1 / 3)
    # actDCF at -log(0.95 / 0.5) = -0.6419: bona fide LLRs 2, -1, 0.5 miss one; spoof LLRs -0.5, 1, -3 pass two
    # (0.95 * 1/3 + 0.5 * 2/3) / 0.5 = 1.3
    assert act_dcf(np.array([2.0, -1.0, 0.5]), np.array([-0.5, 1.0, -3.0])) == pytest.approx(1.3)
    assert bona_fide_scores(np.array([0.5, 0.1]))[1] == pytest.approx(np.log(9))


def test_pooled_eer_is_one_threshold_over_the_sets() -> None:
    a = (np.array([0.1, 0.2, 0.3, 0.4]), np.array([0, 0, 1, 1]))  # separable alone: EER 0
    b = (np.array([0.6, 0.7, 0.8, 0.9]), np.array([0, 0, 1, 1]))  # separable alone: EER 0
    assert spoof_eer(*a) == 0 and spoof_eer(*b) == 0
    # together the reals 0.6, 0.7 of b score above the fakes 0.3, 0.4 of a: half of each class is wrong at any
    # threshold between them
    assert pooled_eer([a, b]) == pytest.approx(0.5)
    assert np.isnan(pooled_eer([])) and np.isnan(spoof_eer(np.array([0.1]), np.array([0])))


def test_per_codec_and_per_vocoder_eer() -> None:
    p = np.array([0.1, 0.9, 0.6, 0.5, 0.2, 0.95])
    y = np.array([0, 1, 0, 1, 0, 1])
    codec = ["none", "none", "gsm", "gsm", "opus", "opus"]
    by_codec = per_condition_eer(p, y, codec)  # each codec's own bona fide against its own spoofs
    assert by_codec == {"gsm": 1.0, "none": 0.0, "opus": 0.0}  # gsm: the real (0.6) scores above the fake (0.5)
    vocoder = ["-", "hifigan", "-", "wavenet", "-", "hifigan"]
    by_vocoder = per_condition_eer(p, y, vocoder, spoof_only=True)  # each vocoder's spoofs against all reals
    assert set(by_vocoder) == {"hifigan", "wavenet"} and by_vocoder["hifigan"] == 0.0
    # wavenet: the spoof 0.5 against the reals 0.1, 0.2, 0.6: the closest DET point calls 0.5 and above fake (one real
    # of three wrong, no spoof): the official EER is the mean of the two rates there, (1/3 + 0) / 2
    assert by_vocoder["wavenet"] == pytest.approx(1 / 6)
    metrics = challenge_metrics(p, y, {"codec": np.array(codec)})
    assert metrics["eer_codec_gsm"] == 1.0 and "min_tdcf" not in metrics and 0 <= metrics["min_dcf"] <= 1
