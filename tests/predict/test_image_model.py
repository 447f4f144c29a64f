"""Whole-image models in prediction: exported to ONNX with their crop policy, scoring images (with or without a
face) and video frames; beside a face model, a face-less image is "not applicable" to it, and the whole-image score
answers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from dfdet.legacy import contract_from_metadata
from dfdet.predict import PredictError, Predictor, load_model
from dfdet.predict.suite import ROLES, Member, Suite
from dfdet.tasks.predict import build_predictor


def test_image_model_scores_images_without_faces(image_onnx: Path, media: dict[str, Path], faces: object) -> None:
    model = load_model(image_onnx)
    contract = model.info.contract
    assert (contract.modality, contract.crop, contract.crops, contract.resize) == ("image", "grid", 4, None)
    predictor = Predictor(model, faces)  # type: ignore[arg-type]
    for name in ("noface", "image"):
        result = predictor.predict(media[name]).result
        assert "error" not in result and 0 <= result["fake_probability"] <= 1 and result["crops_per_frame"] == 4
    video = predictor.predict(media["video"]).result
    assert len(video["frames"]) == 8 and video["num_frames"] == 12  # the face pipeline's 8 sampled frames
    assert predictor.predict(media["audio"]).result["error"]["code"] == "wrong_modality"


def test_face_and_image_models_in_one_answer(
    image_onnx: Path, untrained_face_ckpt: Path, media: dict[str, Path], faces: object
) -> None:
    scene = Predictor(load_model(image_onnx), faces)  # type: ignore[arg-type]
    face_model = Predictor(load_model(untrained_face_ckpt), faces)  # type: ignore[arg-type]
    both = Suite([Member("face", ROLES["face"], face_model), Member("image", ROLES["image"], scene)])
    noface = both.predict(media["noface"]).result
    assert "error" not in noface and noface["models"]["face"]["verdict"] == "not_applicable"
    assert "no face" in noface["models"]["face"]["reason"]
    image = noface["models"]["image"]
    assert 0 <= image["fake_probability"] <= 1 and image["model"]["modality"] == "image"
    assert noface["verdict"] == image["verdict"]  # the image model answers for the face-less photo
    face = both.predict(media["image"]).result["models"]
    assert 0 <= face["face"]["fake_probability"] <= 1 and 0 <= face["image"]["fake_probability"] <= 1
    with pytest.raises(PredictError, match="needs a model of modality face"):
        Member("face", ROLES["face"], scene)


def test_predict_config_takes_an_image_model(
    image_onnx: Path, untrained_face_ckpt: Path, compose_cfg: Callable, tmp_path: Path
) -> None:
    cfg = compose_cfg(
        "predict",
        [f"model_path={untrained_face_ckpt}", f"image_model_path={image_onnx}", "input=x", f"output_dir={tmp_path}"],
    )
    suite = build_predictor(cfg)
    assert isinstance(suite, Suite) and suite.rule == "strongest"
    assert [(m.name, m.role.name) for m in suite.members] == [("model", "face"), ("image_model", "image")]
    image = suite.members[1].scorer
    assert contract_from_metadata({"input_contract": image.info.input}).crops == 4
