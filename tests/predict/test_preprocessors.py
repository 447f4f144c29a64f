"""The predictor's per-modality preprocessors: chosen by the model contract's modality, face crops with the model's
own margin, one clear error for a modality without one."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from dfdet.contract import InputContract
from dfdet.faces import FaceCropper
from dfdet.predict import ModelInfo, PredictError, Predictor
from dfdet.predict.preprocessors import PREPROCESSORS, AudioPreprocessor, FacePreprocessor


class StubModel:
    """A model of a given contract that scores every input 0 (logit)."""

    def __init__(self, contract: InputContract) -> None:
        fields: dict[str, Any] = ModelInfo.contract_fields(contract)
        self.info = ModelInfo(
            name="stub", version="0", format="onnx", backbone="none", threshold=0.5, threshold_source="config",
            **fields,
        )  # fmt: skip

    def logits(self, x: np.ndarray) -> np.ndarray:
        return np.zeros(len(x), np.float32)


def _faces(margin: float) -> SimpleNamespace:
    return SimpleNamespace(cropper=FaceCropper(margin=margin, size=64))


def test_preprocessor_follows_the_contract_modality() -> None:
    face = Predictor(StubModel(InputContract(modality="face", size=32)), _faces(0.15))  # type: ignore[arg-type]
    audio_contract = InputContract(modality="audio", num_samples=8000, sample_rate=16000)
    audio = Predictor(StubModel(audio_contract), _faces(0.15))  # type: ignore[arg-type]
    assert isinstance(face.preprocessor, FacePreprocessor) and isinstance(audio.preprocessor, AudioPreprocessor)
    assert {"face", "audio"} <= set(PREPROCESSORS)


def test_face_crops_use_the_margin_the_model_was_trained_with() -> None:
    faces = _faces(0.15)
    Predictor(StubModel(InputContract(modality="face", size=32, crop_margin=0.3)), faces)  # type: ignore[arg-type]
    assert faces.cropper.margin == pytest.approx(0.3)
    unrecorded = _faces(0.2)
    Predictor(StubModel(InputContract(modality="face", size=32)), unrecorded)  # type: ignore[arg-type]
    assert unrecorded.cropper.margin == pytest.approx(0.2)  # older models: the pipeline config's margin


def test_a_modality_without_a_preprocessor_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from dfdet.predict.preprocessors import PREPROCESSORS

    monkeypatch.delitem(PREPROCESSORS, "audio_visual")  # as a modality registered by no module
    contract = InputContract(modality="audio_visual", size=32, clip_len=4, num_samples=8000, sample_rate=16000)
    with pytest.raises(PredictError, match="no preprocessor for audio_visual models yet"):
        Predictor(StubModel(contract), _faces(0.15))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "field",
    [{"threshold": 1.5}, {"temperature": 0.0}, {"temperature": float("nan")}, {"uncertain_band": (0.7, 0.3)}],
)
def test_nonsense_calibration_from_a_file_is_one_clear_error(field: dict[str, Any]) -> None:
    fields = ModelInfo.contract_fields(InputContract(modality="face", size=32))
    base = {"name": "m", "version": "0", "format": "onnx", "backbone": "x", "threshold": 0.5, "threshold_source": "x"}
    with pytest.raises(PredictError, match="invalid"):
        ModelInfo(**{**base, **fields, **field})


def test_hostile_input_contract_in_export_metadata_is_refused() -> None:
    from dfdet.contract import ContractError
    from dfdet.legacy import contract_from_metadata

    for contract in ({"modality": "face", "size": 10**9}, {"modality": "face", "size": 96, "exec": "rm -rf /"}):
        with pytest.raises(ContractError):
            contract_from_metadata({"input_contract": contract, "input_size": 96, "threshold": 0.5})
