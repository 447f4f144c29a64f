"""Verdicts of prediction: calibrated probabilities, the uncertain band, not_applicable, the demonstration caveat."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from dfdet.predict import PredictError, load_model
from dfdet.provenance import DEMONSTRATION_CAVEAT

VERDICTS = {"fake", "uncertain", "real"}


def test_export_metadata_carries_calibration_and_provenance(onnx_path: Path, ckpt_path: Path) -> None:
    onnx, ckpt = load_model(onnx_path), load_model(ckpt_path)
    for info in (onnx.info, ckpt.info):
        assert info.trained_on == "synthetic"
        assert info.uncertain_band is not None
        low, high = info.uncertain_band
        assert low <= info.threshold <= high
    assert onnx.info.temperature == pytest.approx(ckpt.info.temperature)
    assert onnx.info.threshold == pytest.approx(ckpt.info.threshold)


def test_answers_are_calibrated_verdicts_with_the_demonstration_caveat(
    make_predictor, onnx_path: Path, ckpt_path: Path, media: dict[str, Path]
) -> None:
    answers = [make_predictor(path).predict(media["image"]).result for path in (onnx_path, ckpt_path)]
    for result in answers:
        assert result["verdict"] in VERDICTS and result["reason"]
        assert result["label"] in ("fake", "real")
        assert result["demonstration_model"] is True and result["caveat"] == DEMONSTRATION_CAVEAT
    assert answers[0]["fake_probability"] == pytest.approx(answers[1]["fake_probability"], abs=1e-4)
    assert answers[1]["temperature"] == pytest.approx(make_predictor(ckpt_path).info.temperature)


def test_probabilities_are_sigmoid_of_logit_over_temperature(make_predictor, untrained_face_ckpt: Path) -> None:
    import dataclasses

    predictor = make_predictor(untrained_face_ckpt)
    assert predictor.info.temperature == 1.0  # never calibrated
    side = predictor.info.input_size
    x = np.random.default_rng(0).normal(size=(3, 3, side, side)).astype(np.float32)
    raw = predictor.model.logits(x)
    predictor.info = dataclasses.replace(predictor.info, temperature=2.5)
    np.testing.assert_allclose(predictor.logits(x), raw / 2.5, rtol=1e-5)


def test_no_face_and_wrong_modality_are_not_applicable(
    make_predictor, untrained_face_ckpt: Path, media: dict[str, Path]
) -> None:
    predictor = make_predictor(untrained_face_ckpt)
    for name, code in (("noface", "no_face"), ("audio", "wrong_modality")):
        result = predictor.predict(media[name]).result
        assert result["verdict"] == "not_applicable" and result["error"]["code"] == code
        assert result["reason"] == result["error"]["message"]
        assert result["demonstration_model"] is True  # every answer, errors included
    broken = predictor.predict(media["corrupt"]).result
    assert broken["verdict"] is None and broken["error"]["code"] == "unreadable"


def test_scores_in_the_band_are_uncertain(make_predictor, untrained_face_ckpt: Path) -> None:
    predictor = make_predictor(untrained_face_ckpt, threshold=0.5, uncertain_band=(0.3, 0.7))
    assert predictor.decision(0.5)["verdict"] == "uncertain"
    assert predictor.decision(0.3)["verdict"] == "uncertain"
    assert predictor.decision(0.29)["verdict"] == "real"
    fake = predictor.decision(0.7)
    assert fake["verdict"] == "fake" and fake["label"] == "fake" and fake["uncertain_band"] == [0.3, 0.7]
    assert "uncertain band" in predictor.decision(0.6)["reason"]


def test_a_threshold_override_drops_the_model_band_and_bad_bands_are_refused(make_predictor, ckpt_path: Path) -> None:
    assert make_predictor(ckpt_path).info.uncertain_band is not None
    overridden = make_predictor(ckpt_path, threshold=0.5)
    assert overridden.info.uncertain_band is None
    assert overridden.decision(0.5)["verdict"] == "fake" and overridden.decision(0.49)["verdict"] == "real"
    with pytest.raises(PredictError, match="uncertain_band"):
        make_predictor(ckpt_path, threshold=0.5, uncertain_band=(0.6, 0.8))


def test_onnx_files_without_the_new_metadata_keep_working(onnx_path: Path, tmp_path: Path) -> None:
    import onnx

    proto = onnx.load(str(onnx_path))
    kept = [p for p in proto.metadata_props if p.key not in ("temperature", "uncertain_band", "trained_on")]
    del proto.metadata_props[:]
    proto.metadata_props.extend(kept)
    old = tmp_path / "old.onnx"
    onnx.save(proto, str(old))
    info = load_model(old).info
    assert info.temperature == 1.0 and info.uncertain_band is None and info.trained_on == "unknown"
    assert not math.isnan(info.threshold)
