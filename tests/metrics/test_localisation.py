"""Temporal localisation metrics against hand computations; segments from window scores; the challenge file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dfdet.metrics.localisation import (
    AR_IOU_THRESHOLDS,
    PredictionFormatError,
    average_precision,
    average_recall,
    iou_1d,
    localisation_metrics,
    read_predictions,
    segments_from_scores,
    write_predictions,
)

# File a: two fake segments; b: a real file (its proposal can only be a false positive).
TRUTH = {"a.mp4": [[0.0, 1.0], [2.0, 4.0]], "b.mp4": []}
# Listed out of order on purpose: the metrics sort each file's proposals by confidence.
PREDS = {"a.mp4": [[0.3, 2.0, 4.0], [0.9, 0.0, 1.0], [0.8, 2.0, 3.0]], "b.mp4": [[0.7, 0.0, 1.0]]}


def test_iou_of_intervals() -> None:
    ious = iou_1d(np.array([[0, 1], [2, 3], [5, 6]]), np.array([[0, 1], [2, 4]]))
    np.testing.assert_allclose(ious, [[1, 0], [0, 0.5], [0, 0]])


def test_average_precision_by_hand() -> None:
    # IoU > 0.5: [0,1] claims 0.9 (IoU 1); [2,4] skips 0.8 (IoU exactly 0.5) and claims 0.3 (IoU 1).
    # Pooled: 0.9 TP, 0.8 FP, 0.7 FP, 0.3 TP -> recall .5 .5 .5 1, precision 1 .5 .333 .5.
    # All points: .5 * 1 + .5 * max(.5) = 0.75; the AV-Deepfake1M evaluator leaves out the first step: 0.25.
    # IoU > 0.4: 0.8 is a TP too -> TP TP FP FP: AP 1 (0.5 without the first step).
    ap = average_precision(PREDS, TRUTH, (0.4, 0.5))
    assert ap == pytest.approx({0.4: 1.0, 0.5: 0.75})
    official = average_precision(PREDS, TRUTH, (0.4, 0.5), interpolation="avdeepfake1m")
    assert official == pytest.approx({0.4: 0.5, 0.5: 0.25})
    assert average_precision({}, TRUTH, (0.5,)) == {0.5: 0.0}  # no proposals at all
    assert average_precision(PREDS, {"b.mp4": []}, (0.5,)) == {0.5: 0.0}  # nothing to find
    with pytest.raises(ValueError, match="interpolation"):
        average_precision(PREDS, TRUTH, interpolation="voc11")


def test_one_proposal_claims_one_segment() -> None:
    # Two identical segments, one proposal covering both: one TP, one segment missed (recall 1/2).
    truth = {"c": [[0.0, 2.0], [0.0, 2.0]]}
    assert average_precision({"c": [[0.5, 0.0, 2.0]]}, truth, (0.5,)) == {0.5: pytest.approx(0.5)}
    # AR has no one-to-one matching: both are recalled by the one proposal.
    assert average_recall({"c": [[0.5, 0.0, 2.0]]}, truth, (1,), (0.5,)) == {1: 1.0}


def test_average_recall_by_hand() -> None:
    # Sorted a: [0,1] (IoU 1 with the first), [2,3] (0.5 with the second), [2,4] (1 with the second).
    # IoU > 0.5: top 1 recalls 1 of 2, top 2 still 1 (0.5 is not > 0.5), top 3 both. IoU > 0.4: top 2 both.
    assert average_recall(PREDS, TRUTH, (1, 2, 3), (0.5,)) == pytest.approx({1: 0.5, 2: 0.5, 3: 1.0})
    assert average_recall(PREDS, TRUTH, (2,), (0.4, 0.5)) == pytest.approx({2: 0.75})
    assert average_recall(PREDS, TRUTH, (50,), (0.5,)) == {50: 1.0}  # N beyond the list takes them all
    assert len(AR_IOU_THRESHOLDS) == 10 and AR_IOU_THRESHOLDS[0] == 0.5 and AR_IOU_THRESHOLDS[-1] == 0.95


def test_the_challenge_score_averages_ap_and_ar() -> None:
    metrics = localisation_metrics(PREDS, TRUTH)
    assert set(metrics) == {"ap@0.5", "ap@0.75", "ap@0.9", "ap@0.95", "ar@50", "ar@30", "ar@20", "ar@10", "ar@5",
                            "score"}  # fmt: skip
    ap = np.mean([metrics[k] for k in metrics if k.startswith("ap@")])
    ar = np.mean([metrics[k] for k in metrics if k.startswith("ar@")])
    assert metrics["score"] == pytest.approx(0.5 * ap + 0.5 * ar)
    perfect = localisation_metrics({"a.mp4": [[1.0, 0.0, 1.0], [0.9, 2.0, 4.0]]}, TRUTH)
    assert perfect["score"] == pytest.approx(1.0)


def _close(rows: list[list[float]], expected: list[list[float]]) -> bool:
    return len(rows) == len(expected) and bool(np.allclose(np.array(rows).reshape(-1, 3), expected))


def test_segments_from_window_scores() -> None:
    scores = [0.1, 0.8, 0.9, 0.2, 0.7, 0.1]
    times = np.arange(6) + 0.5  # 1 s windows centred on 0.5, 1.5, ...
    assert _close(segments_from_scores(scores, times), [[0.85, 1.0, 3.0], [0.7, 4.0, 5.0]])
    merged = segments_from_scores(scores, times, merge_gap=1.0)  # the 1 s gap is bridged
    assert _close(merged, [[0.8, 1.0, 5.0]])
    nested = segments_from_scores(scores, times, thresholds=(0.5, 0.85))
    assert _close(nested, [[0.9, 2.0, 3.0], [0.85, 1.0, 3.0], [0.7, 4.0, 5.0]])
    assert _close(segments_from_scores(scores, times, min_length=1.5), [[0.85, 1.0, 3.0]])
    assert segments_from_scores([], []) == []
    with pytest.raises(ValueError, match="same length"):
        segments_from_scores([0.1], [0.0, 1.0])


def test_challenge_file_round_trip_and_errors(tmp_path: Path) -> None:
    path = write_predictions(tmp_path / "out" / "predictions.json", PREDS)
    assert read_predictions(path) == PREDS
    (tmp_path / "bad.json").write_text('{"a.mp4": [[0.5, 3.0, 1.0]]}')
    with pytest.raises(PredictionFormatError, match="start <= end"):
        read_predictions(tmp_path / "bad.json")
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(PredictionFormatError, match="JSON object"):
        read_predictions(tmp_path / "list.json")
    with pytest.raises(PredictionFormatError, match="cannot read"):
        read_predictions(tmp_path / "absent.json")
