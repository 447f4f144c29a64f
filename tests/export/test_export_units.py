"""The export's building blocks: inputs, metadata encoding, comparison, the ONNX exporter choice."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import timm
import torch

from dfdet.contract import InputContract
from dfdet.export import ExportError, LogitNet, config_sha256, export_onnx, make_inputs, max_abs_diff
from dfdet.utils.hashing import from_string_props, to_string_props

SPEC = InputContract(modality="face", size=48, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))


def test_inputs_have_the_model_layout_and_are_reproducible() -> None:
    normal = make_inputs(SPEC, 3, "normal", np.random.default_rng(0))
    assert normal.shape == (3, 3, 48, 48) and normal.dtype == torch.float32
    faces = make_inputs(SPEC, 2, "faces", np.random.default_rng(0))
    assert faces.shape == (2, 3, 48, 48) and faces.dtype == torch.float32
    pixels = faces * torch.tensor(SPEC.std or ()).view(3, 1, 1) + torch.tensor(SPEC.mean or ()).view(3, 1, 1)
    assert pixels.min() >= -1e-5 and pixels.max() <= 1 + 1e-5  # normalised [0, 1] images
    assert pixels.std() > 0.05  # not a flat image
    torch.testing.assert_close(faces, make_inputs(SPEC, 2, "faces", np.random.default_rng(0)))
    with pytest.raises(ExportError, match="Unknown input kind"):
        make_inputs(SPEC, 1, "video", np.random.default_rng(0))


def test_clip_inputs_have_a_time_axis() -> None:
    clip = InputContract(modality="face", size=32, mean=(0.5,) * 3, std=(0.5,) * 3, clip_len=4)
    assert clip.layout == "NTCHW" and clip.shape("batch") == ("batch", 4, 3, 32, 32)
    assert make_inputs(clip, 2, "faces", np.random.default_rng(0)).shape == (2, 4, 3, 32, 32)


def test_max_abs_diff_flags_shape_and_non_finite_mismatches() -> None:
    a = torch.tensor([0.0, 1.0, -2.0])
    assert max_abs_diff(a, a + 1e-3) == pytest.approx(1e-3, rel=1e-4)
    assert max_abs_diff(a, a[:2]) == float("inf")
    assert max_abs_diff(a, torch.tensor([0.0, float("nan"), -2.0])) == float("inf")


def test_metadata_encoding_and_config_hash() -> None:
    meta = {"backbone": "resnet18", "input_size": 96, "mean": [0.5, 0.5, 0.5], "threshold": 0.42}
    props = to_string_props(meta)
    assert props == {"backbone": "resnet18", "input_size": "96", "mean": "[0.5, 0.5, 0.5]", "threshold": "0.42"}
    assert from_string_props(props) == meta
    # Strings that read as JSON (a sha256 prefix of digits and one "e" is a float: inf) come back as strings.
    tricky = {"version": "853448e62957", "digits": "123456789012", "word": "true", "quoted": '"x"', "n": 12}
    assert from_string_props(to_string_props(tricky)) == tricky
    assert config_sha256({"a": 1, "b": {"c": [1, 2]}}) == config_sha256({"b": {"c": [1, 2]}, "a": 1})
    assert config_sha256({"a": 1}) != config_sha256({"a": 2})


@pytest.mark.skipif(importlib.util.find_spec("onnxscript") is not None, reason="onnxscript is installed")
def test_dynamo_exporter_without_onnxscript_is_a_clear_error(tmp_path: Path) -> None:
    module = LogitNet(timm.create_model("test_efficientnet", num_classes=1)).eval()
    with pytest.raises(ExportError, match="onnxscript"):
        export_onnx(module, torch.randn(2, 3, 32, 32), tmp_path / "m.onnx", {}, opset=18, dynamo=True)
    assert list(tmp_path.iterdir()) == []
