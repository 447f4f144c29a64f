"""Whole-image models in prediction: exported to ONNX with their crop policy, scoring images (with or without a
face) and video frames; beside a face model, a face-less image is "not applicable" to it, and the whole-image score
answers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from dfdet.legacy import contract_from_metadata
from dfdet.predict import PredictError, Predictor, load_model
from dfdet.tasks.export import export
from dfdet.tasks.predict import build_predictor

CONF = Path(__file__).resolve().parents[2] / "conf"


@pytest.fixture(scope="module")
def image_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    folder = tmp_path_factory.mktemp("image_model")
    with initialize_config_dir(str(CONF), version_base="1.3"):
        overrides = ["model=image_small", "model.input.size=32", "model.input.crop=grid", "model.input.crops=4"]
        cfg = compose("train", [f"paths.output_dir={folder}", *overrides])
        stored = {"version": "test", "config": OmegaConf.to_container(cfg, resolve=True)}
        torch.save({"state_dict": instantiate(cfg.model).state_dict(), "dfdet": stored}, folder / "image.ckpt")
        export(compose("export", [f"ckpt_path={folder / 'image.ckpt'}", f"output_dir={folder}", "speed=null"]))
    return folder / "image.onnx"


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
    both = Predictor(load_model(untrained_face_ckpt), faces, scene=scene)  # type: ignore[arg-type]
    noface = both.predict(media["noface"]).result
    assert noface["label"] == "not_applicable" and "error" not in noface and "no face" in noface["not_applicable"]
    assert 0 <= noface["image"]["fake_probability"] <= 1 and noface["image"]["model"]["modality"] == "image"
    face = both.predict(media["image"]).result
    assert 0 <= face["fake_probability"] <= 1 and 0 <= face["image"]["fake_probability"] <= 1
    with pytest.raises(PredictError, match="needs a face model as model= and a whole-image model"):
        Predictor(load_model(image_onnx), faces, scene=scene)  # type: ignore[arg-type]


def test_predict_config_takes_an_image_model(
    image_onnx: Path, untrained_face_ckpt: Path, compose_cfg: Callable, tmp_path: Path
) -> None:
    cfg = compose_cfg(
        "predict",
        [f"model_path={untrained_face_ckpt}", f"image_model_path={image_onnx}", "input=x", f"output_dir={tmp_path}"],
    )
    predictor = build_predictor(cfg)
    assert predictor.scene is not None and predictor.scene.info.modality == "image"
    assert contract_from_metadata({"input_contract": predictor.scene.info.input}).crops == 4
