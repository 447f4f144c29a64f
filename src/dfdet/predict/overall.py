"""One overall verdict from several detectors' verdicts (pure functions; no model, no file).

A detector suite (:mod:`dfdet.predict.suite`) scores a file with every model that applies to it; each model gives a
calibrated verdict (``fake``, ``uncertain``, ``real``, ``not_applicable``, or None when it failed). A rule of
:data:`RULES` turns them into one verdict with its reason in words:

- ``strongest`` (the default): the strongest applicable evidence wins: ``fake`` if any model says fake, else
  ``uncertain`` if any is uncertain, else ``real`` if any says real. A fake of one modality (a cloned voice over a
  real face) is never diluted by the models that find nothing, which is what a person checking media needs first.
- ``weighted_vote``: each model that gave a calibrated call votes its ``weight`` for fake, real or uncertain;
  ``fake`` (or ``real``) needs more than half of the voting weight, anything else is ``uncertain``. Vendor and
  TrueMedia-style aggregation weigh detectors by their trust in a similar way (we could not read TrueMedia's own
  weights: their aggregation is described here from the issue, not copied).
- ``weighted_mean``: late fusion generalised to N models: ``p = sum(w_i p_i) / sum(w_i)`` over the models with a
  score, called fake at the same mean of their thresholds (:func:`dfdet.metrics.fusion.late_fusion` is the
  two-model case: face weight ``1 - w``, voice weight ``w``).

Models that do not apply or failed never vote; with no calibrated call at all the overall verdict is
``not_applicable`` (some model did not apply) or None (every model failed).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from dfdet.metrics.calibration import verdict

CALLS = ("fake", "uncertain", "real")  # the calibrated verdicts, strongest evidence of manipulation first


@dataclass(frozen=True)
class Evidence:
    """One model's answer on one file.

    Attributes:
        name: the model's name in the suite (``face``, ``voice``, ...).
        verdict: ``fake``, ``uncertain``, ``real``, ``not_applicable`` or None (the model failed on the file).
        summary: the answer in words (``face model: fake 0.93 on 28 of 32 frames``).
        probability: the calibrated fake probability, None without a score.
        threshold: the model's decision threshold, None without a score.
        weight: the model's weight in ``weighted_vote`` and ``weighted_mean`` (>= 0).
    """

    name: str
    verdict: str | None
    summary: str
    probability: float | None = None
    threshold: float | None = None
    weight: float = 1.0


@dataclass
class Overall:
    """The overall verdict, the rule that gave it, the models it rests on, and the reason in words."""

    verdict: str | None
    rule: str
    reason: str
    decided_by: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (``verdict``, ``rule``, ``reason``, ``decided_by`` and the rule's extra numbers)."""
        return {"verdict": self.verdict, "rule": self.rule, "reason": self.reason, "decided_by": self.decided_by,
                **self.extra}  # fmt: skip


def _details(evidence: Sequence[Evidence]) -> str:
    return "; ".join(e.summary for e in evidence)


def _without_call(evidence: Sequence[Evidence], rule: str) -> Overall:
    """No model gave a calibrated call: ``not_applicable`` when some model did not apply, else None."""
    if any(e.verdict == "not_applicable" for e in evidence):
        return Overall("not_applicable", rule, f"no model applies to this file: {_details(evidence)}")
    return Overall(None, rule, f"no model could score this file: {_details(evidence)}")


def strongest(evidence: Sequence[Evidence]) -> Overall:
    """The strongest applicable evidence: the first of ``fake``, ``uncertain``, ``real`` that any model gives."""
    for call in CALLS:
        names = [e.name for e in evidence if e.verdict == call]
        if names:
            why = f"{call} by the strongest evidence ({', '.join(names)})"
            return Overall(call, "strongest", f"{why}: {_details(evidence)}", names)
    return _without_call(evidence, "strongest")


def weighted_vote(evidence: Sequence[Evidence]) -> Overall:
    """``fake`` or ``real`` when more than half of the voting weight says so, else ``uncertain``."""
    voters = [e for e in evidence if e.verdict in CALLS and e.weight > 0]
    total = sum(e.weight for e in voters)
    if not voters or total <= 0:
        return _without_call(evidence, "weighted_vote")
    votes = {call: sum(e.weight for e in voters if e.verdict == call) for call in CALLS}
    call = next((c for c in ("fake", "real") if votes[c] > total / 2), "uncertain")
    names = [e.name for e in voters if e.verdict == call] or [e.name for e in voters]
    shares = ", ".join(f"{c} {votes[c] / total:.2f}" for c in CALLS if votes[c] > 0)
    reason = f"{call} by weighted vote ({shares} of the voting weight): {_details(evidence)}"
    return Overall(call, "weighted_vote", reason, names, {"votes": {c: votes[c] / total for c in CALLS}})


def weighted_mean(evidence: Sequence[Evidence]) -> Overall:
    """The weighted mean of the scores, called at the weighted mean of the thresholds (no uncertain band: the
    bands were fitted on each model's own scores)."""
    scored = [e for e in evidence if e.probability is not None and e.threshold is not None and e.weight > 0]
    total = sum(e.weight for e in scored)
    if not scored or total <= 0:
        return _without_call(evidence, "weighted_mean")
    p = sum(e.weight * float(e.probability or 0.0) for e in scored) / total
    t = sum(e.weight * float(e.threshold or 0.0) for e in scored) / total
    call = verdict(p, t)
    weights = ", ".join(f"{e.name} {e.weight / total:.2f}" for e in scored)
    reason = f"{call}: weighted mean {p:.3f} against {t:.3f} (weights {weights}): {_details(evidence)}"
    extra = {"fake_probability": p, "threshold": t, "weights": {e.name: e.weight / total for e in scored}}
    return Overall(call, "weighted_mean", reason, [e.name for e in scored], extra)


RULES: dict[str, Callable[[Sequence[Evidence]], Overall]] = {
    "strongest": strongest,
    "weighted_vote": weighted_vote,
    "weighted_mean": weighted_mean,
}
