"""The overall-verdict rules of detector suites on constructed cases (dfdet.predict.overall)."""

from __future__ import annotations

import pytest

from dfdet.metrics.fusion import late_fusion
from dfdet.predict.overall import RULES, Evidence, strongest, weighted_mean, weighted_vote


def ev(name: str, call: str | None, p: float | None = None, t: float | None = 0.5, w: float = 1.0) -> Evidence:
    return Evidence(name, call, f"{name} model: {call}", p, t if p is not None else None, w)


FACE_FAKE = ev("face", "fake", 0.93)
VOICE_REAL = ev("voice", "real", 0.10)
IMAGE_REAL = ev("image", "real", 0.12)
IMAGE_UNSURE = ev("image", "uncertain", 0.45)
NO_FACE = ev("face", "not_applicable")
BROKEN = ev("voice", None)


@pytest.mark.parametrize(
    ("evidence", "expected", "decided_by"),
    [
        ([FACE_FAKE, VOICE_REAL, IMAGE_REAL], "fake", ["face"]),  # one fake is never diluted
        ([ev("face", "real", 0.2), IMAGE_UNSURE], "uncertain", ["image"]),
        ([ev("face", "real", 0.2), IMAGE_REAL], "real", ["face", "image"]),
        ([NO_FACE, IMAGE_REAL], "real", ["image"]),  # a face-less photo: the image model answers
        ([NO_FACE, ev("voice", "not_applicable")], "not_applicable", []),
        ([BROKEN], None, []),
        ([NO_FACE, BROKEN], "not_applicable", []),
    ],
)
def test_strongest_evidence(evidence: list[Evidence], expected: str | None, decided_by: list[str]) -> None:
    overall = strongest(evidence)
    assert (overall.verdict, overall.decided_by) == (expected, decided_by)
    for e in evidence:  # the reason names every model's answer
        assert e.summary in overall.reason


def test_weighted_vote_needs_more_than_half_of_the_voting_weight() -> None:
    assert weighted_vote([FACE_FAKE, VOICE_REAL, IMAGE_REAL]).verdict == "real"  # 2 of 3 say real
    heavy_face = ev("face", "fake", 0.93, w=3.0)
    vote = weighted_vote([heavy_face, VOICE_REAL, IMAGE_REAL])
    assert vote.verdict == "fake" and vote.extra["votes"]["fake"] == pytest.approx(0.6)
    assert weighted_vote([FACE_FAKE, VOICE_REAL]).verdict == "uncertain"  # a tie is not a majority
    assert weighted_vote([FACE_FAKE, IMAGE_UNSURE, VOICE_REAL]).verdict == "uncertain"
    assert weighted_vote([NO_FACE, IMAGE_REAL]).verdict == "real"  # models that do not apply do not vote
    assert weighted_vote([ev("face", "fake", 0.9, w=0.0), IMAGE_REAL]).verdict == "real"  # weight 0: no vote
    assert weighted_vote([NO_FACE]).verdict == "not_applicable"


def test_weighted_mean_is_late_fusion_for_two_models() -> None:
    face, voice = ev("face", "real", 0.40, t=0.57, w=0.7), ev("voice", "fake", 0.99, t=0.66, w=0.3)
    overall = weighted_mean([face, voice])
    assert overall.extra["fake_probability"] == pytest.approx(late_fusion(0.40, 0.99, 0.3))
    assert overall.extra["threshold"] == pytest.approx(late_fusion(0.57, 0.66, 0.3))
    assert overall.verdict == "real"  # the dilution docs/deployment.md warns of; strongest says fake
    assert strongest([face, voice]).verdict == "fake"
    alone = weighted_mean([face, ev("voice", "not_applicable", w=0.3)])  # no sound: the face score alone
    assert alone.extra["fake_probability"] == pytest.approx(0.40) and alone.extra["weights"] == {"face": 1.0}
    assert weighted_mean([NO_FACE, BROKEN]).verdict == "not_applicable"


def test_every_rule_is_registered_and_named_in_its_answer() -> None:
    for name, rule in RULES.items():
        assert rule([FACE_FAKE, IMAGE_REAL]).as_dict()["rule"] == name
