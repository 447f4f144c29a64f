"""Anti-spoofing metrics as the ASVspoof challenges define them: min t-DCF (2019, 2021), minDCF and actDCF
(ASVspoof 5), EER per condition (codec, vocoder) and the EER pooled over several test sets (Speech DF Arena).

Conventions. The challenges' countermeasure (CM) scores are *bona fide* scores (higher = more likely bona fide); the
detectors here give fake probabilities ``p``. :func:`bona_fide_scores` turns them into ``log((1 - p) / p)``, the
bona fide log-odds: the same order as ``1 - p`` (so every minimum metric and EER is unchanged) and a log-likelihood
ratio when the calibrated probability was trained at balanced priors (what actDCF assumes).

The DET curve is the official one (``compute_det_curve`` of the ASVspoof 2019/2021/5 evaluation packages): every
sorted score is a threshold, a trial is rejected as spoof when its score is at or below it.

References:
    Kinnunen et al., "t-DCF: a detection cost function for the tandem assessment of spoofing countermeasures and
    automatic speaker verification", Odyssey 2018 (the ASVspoof 2019 evaluation plan's t-DCF, ``legacy=True``).
    Kinnunen et al., "Tandem assessment of spoofing countermeasures and automatic speaker verification:
    fundamentals", IEEE/ACM TASLP 28, 2020 (the revised t-DCF of tDCF_python_v2, used by ASVspoof 2021).
    Wang et al., "ASVspoof 5 evaluation plan", 2024 (minDCF, actDCF with Pspoof = 0.05, Cmiss = 1, Cfa = 10).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TDCFCost:
    """The t-DCF cost model. Defaults: the ASVspoof 2019 and 2021 evaluation plans (Pspoof = 0.05,
    Ptar = 0.95 * 0.99 = 0.9405, Pnon = 0.95 * 0.01 = 0.0095, Cmiss = 1, Cfa = 10, Cfa_spoof = 10; the legacy
    formulation's Cmiss_asv = Cmiss_cm = Cmiss and Cfa_asv = Cfa_cm = Cfa, as in its cost model)."""

    pspoof: float = 0.05
    ptar: float = 0.95 * 0.99
    pnon: float = 0.95 * 0.01
    cmiss: float = 1.0
    cfa: float = 10.0
    cfa_spoof: float = 10.0


@dataclass(frozen=True)
class ASVErrors:
    """Error rates of the ASV system the CM is evaluated in tandem with, at ``threshold``.

    Attributes:
        pfa: nontarget trials accepted; pmiss: target trials rejected; pfa_spoof: spoofs accepted (1 - Pmiss_spoof).
    """

    pfa: float
    pmiss: float
    pfa_spoof: float
    threshold: float


def bona_fide_scores(fake_probability: np.ndarray, eps: float = 1e-7) -> np.ndarray:
    """Fake probabilities to bona fide log-odds ``log((1 - p) / p)`` (clipped to ``[eps, 1 - eps]``)."""
    p = np.clip(np.asarray(fake_probability, np.float64), eps, 1 - eps)
    return np.log1p(-p) - np.log(p)


def det_curve(bona: np.ndarray, spoof: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The official DET curve of bona fide (positive) against spoof (negative) scores.

    Returns:
        ``(pmiss, pfa, thresholds)``, each (N + 1,): at threshold k, bona fide trials with scores among the k lowest
        are missed and spoofs above them accepted; the first point rejects nothing (pmiss 0, pfa 1).
    """
    bona, spoof = np.asarray(bona, np.float64).ravel(), np.asarray(spoof, np.float64).ravel()
    if not bona.size or not spoof.size:
        raise ValueError(f"need bona fide and spoof scores, got {bona.size} and {spoof.size}")
    scores = np.concatenate([bona, spoof])
    labels = np.concatenate([np.ones(bona.size), np.zeros(spoof.size)])
    order = np.argsort(scores, kind="mergesort")
    labels = labels[order]
    bona_below = np.cumsum(labels)
    spoof_above = spoof.size - (np.arange(1, scores.size + 1) - bona_below)
    pmiss = np.concatenate([[0.0], bona_below / bona.size])
    pfa = np.concatenate([[1.0], spoof_above / spoof.size])
    thresholds = np.concatenate([[scores[order[0]] - 0.001], scores[order]])
    return pmiss, pfa, thresholds


def eer_threshold(positive: np.ndarray, negative: np.ndarray) -> tuple[float, float]:
    """The official EER (mean of miss and false-alarm rates where they are closest) and its threshold."""
    pmiss, pfa, thresholds = det_curve(positive, negative)
    k = int(np.argmin(np.abs(pmiss - pfa)))
    return float((pmiss[k] + pfa[k]) / 2), float(thresholds[k])


def asv_errors(
    target: np.ndarray, nontarget: np.ndarray, spoof: np.ndarray, threshold: float | None = None
) -> ASVErrors:
    """The ASV error rates the t-DCF needs, at the ASV's own EER threshold (as the challenges fix it) unless given.

    Args:
        target, nontarget, spoof: ASV scores of target, zero-effort nontarget and spoofed trials.
        threshold: accept when score >= threshold; None: the EER threshold of target against nontarget.
    """
    target, nontarget, spoof = (np.asarray(a, np.float64).ravel() for a in (target, nontarget, spoof))
    if not target.size or not nontarget.size or not spoof.size:
        raise ValueError("ASV scores need target, nontarget and spoof trials")
    t = eer_threshold(target, nontarget)[1] if threshold is None else float(threshold)
    return ASVErrors(
        pfa=float(np.mean(nontarget >= t)),
        pmiss=float(np.mean(target < t)),
        pfa_spoof=float(np.mean(spoof >= t)),
        threshold=t,
    )


def tdcf_curve(
    bona: np.ndarray, spoof: np.ndarray, asv: ASVErrors, cost: TDCFCost = TDCFCost(), legacy: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """The normalised t-DCF at every CM threshold.

    Revised (default, ASVspoof 2021): ``(C0 + C1 Pmiss_cm + C2 Pfa_cm) / (C0 + min(C1, C2))`` with
    ``C0 = Ptar Cmiss Pmiss_asv + Pnon Cfa Pfa_asv``, ``C1 = Ptar Cmiss - C0``, ``C2 = Pspoof Cfa_spoof Pfa_spoof_asv``.
    Legacy (``legacy=True``, the ASVspoof 2019 evaluation plan): ``(C1 Pmiss_cm + C2 Pfa_cm) / min(C1, C2)`` with the
    same C1 and C2. The value of a CM that accepts everything (or rejects everything) is 1.

    Args:
        bona, spoof: CM scores (higher = bona fide) of bona fide and spoofed trials.
        asv: the tandem ASV system's error rates (:func:`asv_errors`).

    Returns:
        ``(tdcf_norm, thresholds)``, each (N + 1,).
    """
    pmiss_cm, pfa_cm, thresholds = det_curve(bona, spoof)
    c0 = cost.ptar * cost.cmiss * asv.pmiss + cost.pnon * cost.cfa * asv.pfa
    c1 = cost.ptar * cost.cmiss - c0
    c2 = cost.pspoof * cost.cfa_spoof * asv.pfa_spoof
    if c1 < 0 or c2 <= 0:
        raise ValueError(f"t-DCF weights must be positive (C1 = {c1:.4g}, C2 = {c2:.4g}): check the ASV scores")
    if legacy:
        return (c1 * pmiss_cm + c2 * pfa_cm) / min(c1, c2), thresholds
    return (c0 + c1 * pmiss_cm + c2 * pfa_cm) / (c0 + min(c1, c2)), thresholds


def min_tdcf(
    bona: np.ndarray, spoof: np.ndarray, asv: ASVErrors, cost: TDCFCost = TDCFCost(), legacy: bool = False
) -> float:
    """The minimum normalised t-DCF over CM thresholds (see :func:`tdcf_curve`).

    Example:
        >>> asv = ASVErrors(pfa=0.0, pmiss=0.0, pfa_spoof=1.0, threshold=0.0)  # a perfect ASV fooled by every spoof
        >>> round(min_tdcf(np.array([2.0, 3.0]), np.array([1.0, 2.5]), asv), 4)  # C1 = 0.9405, C2 = 0.5
        0.5
    """
    return float(tdcf_curve(bona, spoof, asv, cost, legacy)[0].min())


def min_dcf(bona: np.ndarray, spoof: np.ndarray, pspoof: float = 0.05, cmiss: float = 1.0, cfa: float = 10.0) -> float:
    """ASVspoof 5 minDCF: ``min over thresholds of (Cmiss (1 - Pspoof) Pmiss + Cfa Pspoof Pfa)``, normalised by
    ``min(Cmiss (1 - Pspoof), Cfa Pspoof)`` (the cost of the better of accepting or rejecting everything).

    Example:
        >>> round(min_dcf(np.array([0.9, 0.8, 0.6]), np.array([0.1, 0.5])), 4)  # reject at or below 0.5: no error
        0.0
    """
    pmiss, pfa, _ = det_curve(bona, spoof)
    cost = cmiss * (1 - pspoof) * pmiss + cfa * pspoof * pfa
    return float(cost.min() / min(cmiss * (1 - pspoof), cfa * pspoof))


def act_dcf(bona: np.ndarray, spoof: np.ndarray, pspoof: float = 0.05, cmiss: float = 1.0, cfa: float = 10.0) -> float:
    """ASVspoof 5 actDCF: the normalised DCF at the Bayes threshold ``-log(beta)``, ``beta = Cmiss (1 - Pspoof) /
    (Cfa Pspoof)``, of log-likelihood-ratio scores (bona fide rejected when its score is below it)."""
    bona, spoof = np.asarray(bona, np.float64), np.asarray(spoof, np.float64)
    threshold = -np.log(cmiss * (1 - pspoof) / (cfa * pspoof))
    cost = cmiss * (1 - pspoof) * np.mean(bona < threshold) + cfa * pspoof * np.mean(spoof >= threshold)
    return float(cost / min(cmiss * (1 - pspoof), cfa * pspoof))


def spoof_eer(fake_probability: np.ndarray, target: np.ndarray) -> float:
    """The official EER of fake probabilities (1 = spoof); nan when a class is missing."""
    p, y = np.asarray(fake_probability, np.float64).ravel(), np.asarray(target).ravel()
    if not (y == 0).any() or not (y == 1).any():
        return float("nan")
    return eer_threshold(-p[y == 0], -p[y == 1])[0]


def pooled_eer(sets: Sequence[tuple[np.ndarray, np.ndarray]], official: bool = True) -> float:
    """One EER (one threshold) over the scores of several test sets together, as Speech DF Arena's pooled EER.

    Args:
        sets: ``(fake_probability, target)`` of each set.
        official: the challenges' EER (closest DET point); False: the interpolated EER of
            :func:`dfdet.metrics.functional.binary_eer` (the ``eer`` every evaluation reports).
    """
    if not sets:
        return float("nan")
    p, y = np.concatenate([s[0] for s in sets]), np.concatenate([s[1] for s in sets])
    if official:
        return spoof_eer(p, y)
    import torch

    from dfdet.metrics.functional import binary_eer

    return float(binary_eer(torch.as_tensor(p, dtype=torch.float64), torch.as_tensor(y).long()))


def per_condition_eer(
    fake_probability: np.ndarray, target: np.ndarray, conditions: Sequence[str] | np.ndarray, spoof_only: bool = False
) -> dict[str, float]:
    """EER of each condition of the data (ASVspoof 2021's decomposed EERs).

    Args:
        fake_probability, target: scores and labels (1 = spoof) of each trial.
        conditions: each trial's condition (codec, vocoder, ...).
        spoof_only: False (a codec or channel): the condition's bona fide trials against its spoofs; True (a
            vocoder, an attack): the condition's spoofs against all bona fide trials.

    Returns:
        ``{condition: eer}``, nan for a condition lacking a class; sorted by condition.
    """
    p, y = np.asarray(fake_probability, np.float64).ravel(), np.asarray(target).ravel()
    c = np.asarray(conditions, dtype=object).ravel().astype(str)
    if not len(p) == len(y) == len(c):
        raise ValueError(f"scores, labels and conditions differ in length: {len(p)}, {len(y)}, {len(c)}")
    out = {}
    for name in sorted(set(c[y == 1]) if spoof_only else set(c)):
        mask = ((c == name) & (y == 1)) | (y == 0) if spoof_only else c == name
        out[name] = spoof_eer(p[mask], y[mask])
    return out


# manifest column -> whether its EER takes the condition's spoofs against all bona fide trials (an attack property)
# or the condition's own bona fide and spoofed trials (a channel property), as ASVspoof 2021 decomposes its EERs
CONDITION_COLUMNS = {"codec": False, "vocoder": True}


def challenge_metrics(
    fake_probability: np.ndarray,
    target: np.ndarray,
    conditions: dict[str, np.ndarray] | None = None,
    asv: ASVErrors | None = None,
    legacy_tdcf: bool = False,
) -> dict[str, float]:
    """The challenge metrics of one evaluation.

    Args:
        fake_probability, target: each trial's calibrated fake probability and label (1 = spoof).
        conditions: ``{column: each trial's value}`` for columns of :data:`CONDITION_COLUMNS`.
        asv: the tandem ASV's error rates; None: no t-DCF.
        legacy_tdcf: the ASVspoof 2019 evaluation plan's t-DCF instead of the revised one.

    Returns:
        ``eer_official`` (the challenges' EER), ``min_dcf``, ``act_dcf`` (ASVspoof 5 parameters),
        ``eer_<column>_<value>`` per condition, ``min_tdcf`` with ``asv``; nan where a class is missing.
    """
    p, y = np.asarray(fake_probability, np.float64).ravel(), np.asarray(target).ravel()
    out: dict[str, float] = {"eer_official": spoof_eer(p, y)}
    both = (y == 0).any() and (y == 1).any()
    bona, spoof = bona_fide_scores(p[y == 0]), bona_fide_scores(p[y == 1])
    out["min_dcf"] = min_dcf(bona, spoof) if both else float("nan")
    out["act_dcf"] = act_dcf(bona, spoof) if both else float("nan")
    for column, values in (conditions or {}).items():
        for name, eer in per_condition_eer(p, y, values, spoof_only=CONDITION_COLUMNS[column]).items():
            out[f"eer_{column}_{name}"] = eer
    if asv is not None:
        out["min_tdcf"] = min_tdcf(bona, spoof, asv, legacy=legacy_tdcf) if both else float("nan")
    return out
