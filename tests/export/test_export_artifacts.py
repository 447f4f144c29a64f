"""Export of a trained checkpoint through the task function: artifacts, metadata, reloading, failure cleanup."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf

from dfdet.export import ExportError, default_output_dir, make_inputs
from dfdet.export.pipeline import LOADERS
from dfdet.models import load_detector, read_checkpoint
from dfdet.tasks.export import export

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")

ATOL = 1e-4
CONF = Path(__file__).resolve().parents[2] / "conf"


def compose_config(config_name: str, overrides: list[str]) -> DictConfig:
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose(config_name, overrides=overrides)


def export_cfg(ckpt: Path, out: Path, *overrides: str) -> DictConfig:
    """conf/export.yaml with a short timing budget."""
    return compose_config("export", [f"ckpt_path={ckpt}", f"output_dir={out}", "speed.seconds=0.05", *overrides])


@pytest.fixture(scope="module")
def exported(trained_run, tmp_path_factory) -> dict[str, Any]:
    """Both formats of the session's trained checkpoint, exported once for this module."""
    run, _ = trained_run
    ckpt = run / "checkpoints" / "best.ckpt"
    out = tmp_path_factory.mktemp("export") / "artifacts"
    results = export(export_cfg(ckpt, out))
    model, _ = load_detector(ckpt)
    return {"ckpt": ckpt, "out": out, "results": results, "model": model}


def faces(model, batch: int, seed: int = 1) -> torch.Tensor:
    return make_inputs(model.contract, batch, "faces", np.random.default_rng(seed))


def test_writes_both_formats_with_sidecars_and_reports(exported) -> None:
    out, results = exported["out"], exported["results"]
    assert sorted(p.name for p in out.iterdir()) == [
        "best.onnx",
        "best.onnx.json",
        "best.torchscript",
        "best.torchscript.json",
    ]
    for fmt in ("onnx", "torchscript"):
        diffs = results[fmt]["max_abs_diff"]
        assert set(diffs) == {"normal b1", "normal b3", "faces b1", "faces b3"}
        assert all(0 <= d <= ATOL for d in diffs.values())
        assert results[fmt]["speed_vs_eager"] > 0


def test_onnx_runs_in_an_independent_session(exported) -> None:
    model = exported["model"]
    session = ort.InferenceSession(str(exported["out"] / "best.onnx"), providers=["CPUExecutionProvider"])
    (inp,) = session.get_inputs()
    assert inp.name == "input" and inp.shape[0] == "batch"
    for batch in (3, 1, 5):  # dynamic batch axis
        x = faces(model, batch, seed=batch)
        (logits,) = session.run(None, {"input": x.numpy()})
        assert logits.shape == (batch,)
        assert np.isfinite(logits).all()
        with torch.inference_mode():
            expected = model(x).numpy()
        np.testing.assert_allclose(logits, expected, rtol=0, atol=ATOL)
    x = torch.randn(5, *inp.shape[1:])
    np.testing.assert_allclose(session.run(None, {"input": x.numpy()})[0], model(x).detach().numpy(), atol=ATOL)


def test_torchscript_reload_matches(exported) -> None:
    model = exported["model"]
    scripted = torch.jit.load(str(exported["out"] / "best.torchscript"), map_location="cpu")
    for batch in (1, 3, 5):
        x = faces(model, batch, seed=10 + batch)
        with torch.no_grad():
            torch.testing.assert_close(scripted(x), model(x), rtol=0, atol=ATOL)


def test_metadata_names_input_threshold_output_and_config(exported) -> None:
    out, model, ckpt = exported["out"], exported["model"], exported["ckpt"]
    props = {p.key: p.value for p in onnx.load(str(out / "best.onnx")).metadata_props}
    extra = {"dfdet.json": ""}
    torch.jit.load(str(out / "best.torchscript"), _extra_files=extra)
    scripted_meta = json.loads(extra["dfdet.json"])

    config = read_checkpoint(ckpt)["dfdet"]["config"]
    config_hash = hashlib.sha256(json.dumps(config, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    assert props["input_size"] == "64" and scripted_meta["input_size"] == 64
    assert float(props["threshold"]) == pytest.approx(float(model.threshold)) == scripted_meta["threshold"]
    assert props["backbone"] == scripted_meta["backbone"] == "test_efficientnet"
    assert json.loads(props["mean"]) == scripted_meta["mean"] == list(model.contract.mean or ())
    assert props["output"].startswith("logit; sigmoid(logit / temperature) gives the probability")
    assert "fake=1" in props["output"]
    assert props["config_sha256"] == scripted_meta["config_sha256"] == config_hash
    assert props["opset"] == "17" and props["torch_version"] == torch.__version__
    assert props["dfdet_version"] == scripted_meta["dfdet_version"]

    sidecar = json.loads((out / "best.onnx.json").read_text())
    assert sidecar["sha256"] == hashlib.sha256((out / "best.onnx").read_bytes()).hexdigest()
    assert sidecar["threshold"] == float(props["threshold"]) and sidecar["input_size"] == 64
    assert sidecar["verification"]["atol"] == ATOL
    assert json.loads((out / "best.torchscript.json").read_text())["config_sha256"] == config_hash


def test_default_output_is_the_runs_exported_folder(tmp_path: Path) -> None:
    assert default_output_dir(tmp_path / "run" / "checkpoints" / "best.ckpt") == tmp_path / "run" / "exported"
    assert default_output_dir(tmp_path / "model.ckpt") == tmp_path / "exported"


def test_failed_verification_leaves_no_file(exported, tmp_path: Path, monkeypatch) -> None:
    load = LOADERS["torchscript"]

    def perturbed(path):
        run = load(path)
        return lambda x: run(x) + 1e-3

    monkeypatch.setitem(LOADERS, "torchscript", perturbed)
    out = tmp_path / "nested" / "exported"
    with pytest.raises(ExportError, match="torchscript export does not match eager PyTorch"):
        export(export_cfg(exported["ckpt"], out, "speed=null"))  # ONNX passes first, and is not kept either
    assert list(tmp_path.rglob("*")) == []


def test_no_checkpoint_or_bad_options_are_clear_errors(exported, tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="ckpt_path is required"):
        export(compose_config("export", [f"output_dir={tmp_path}"]))
    with pytest.raises(ExportError, match="format=tflite"):
        export(export_cfg(exported["ckpt"], tmp_path / "x", "format=tflite"))
    with pytest.raises(ExportError, match="opset=30"):
        export(export_cfg(exported["ckpt"], tmp_path / "x", "opset=30"))
    assert list(tmp_path.iterdir()) == []


def test_single_format_and_name(exported, tmp_path: Path) -> None:
    results = export(export_cfg(exported["ckpt"], tmp_path, "format=onnx", "name=detector", "speed=null"))
    assert list(results) == ["onnx"] and "speed_vs_eager" not in results["onnx"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["detector.onnx", "detector.onnx.json"]
    assert OmegaConf.is_missing(compose_config("export", []), "ckpt_path")
