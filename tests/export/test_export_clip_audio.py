"""Export of clip models (temporal head over (B, T, 3, H, W)) and audio models (waveforms (B, N)) trained through the
real config: both formats, onnxruntime parity with eager PyTorch at batch 1 and 3, dynamic batch, metadata."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from dfdet import __version__
from dfdet.contract import InputContract
from dfdet.export import make_inputs
from dfdet.export.formats import READERS
from dfdet.export.pipeline import LOADERS
from dfdet.models import load_detector
from dfdet.tasks.export import export
from dfdet.tasks.train import train

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")

ATOL = 1e-4
CONF = Path(__file__).resolve().parents[2] / "conf"
TINY_AUDIO = [  # tiny LCNN on half-second crops of a tiny synthetic audio set
    "data=synthetic_audio",
    "model=lcnn",
    "model.input.num_samples=8000",
    "model.net.channels=[4,4,4,4,4]",
    "model.net.embedding=8",
    "data.batch_size=8",
    "data.source.speakers=[2,1,1]",
    "data.source.utterances_per_speaker=2",
    "data.source.seconds=[0.6,0.8]",
    "data.source.workers=1",
]


def _export(ckpt: Path, out: Path) -> dict[str, Any]:
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("export", [f"ckpt_path={ckpt}", f"output_dir={out}", "speed=null"])
    return export(cfg)


def _train_and_export(cfg: DictConfig, out: Path) -> dict[str, Any]:
    train(cfg)
    ckpt = Path(cfg.paths.output_dir) / "checkpoints" / "best.ckpt"
    results = _export(ckpt, out)
    model, _ = load_detector(ckpt)
    return {"ckpt": ckpt, "out": out, "results": results, "model": model}


@pytest.fixture
def clip_export(tiny_cfg: Callable[..., DictConfig], tmp_path: Path) -> dict[str, Any]:
    return _train_and_export(
        tiny_cfg("model/head=gru", "model.input.clip_len=3", "model.input.clip_stride=1"), tmp_path / "clip"
    )


@pytest.fixture
def audio_export(tiny_cfg: Callable[..., DictConfig], tmp_path: Path) -> dict[str, Any]:
    return _train_and_export(tiny_cfg(*TINY_AUDIO), tmp_path / "audio")


def _check_parity(exported: dict[str, Any], spec: InputContract, kinds: tuple[str, ...]) -> None:
    model, out = exported["model"], exported["out"]
    session = ort.InferenceSession(str(out / "best.onnx"), providers=["CPUExecutionProvider"])
    (onnx_input,) = session.get_inputs()
    assert onnx_input.shape[0] == "batch" and list(onnx_input.shape[1:]) == list(spec.shape(1)[1:])
    scripted = LOADERS["torchscript"](out / "best.torchscript")
    rng = np.random.default_rng(7)
    for kind in kinds:
        for batch in (1, 3):
            x = make_inputs(spec, batch, kind, rng)
            assert tuple(x.shape) == spec.shape(batch)
            with torch.inference_mode():
                expected = model(x).numpy()
            (onnx_out,) = session.run(None, {onnx_input.name: x.numpy()})
            assert onnx_out.shape == (batch,)
            np.testing.assert_allclose(onnx_out, expected, atol=ATOL, rtol=0)
            np.testing.assert_allclose(scripted(x).numpy(), expected, atol=ATOL, rtol=0)
    for fmt in ("onnx", "torchscript"):
        diffs = exported["results"][fmt]["max_abs_diff"]
        assert sorted(diffs) == sorted(f"{k} b{b}" for k in kinds for b in (1, 3))
        assert max(diffs.values()) <= ATOL


def _metadata(exported: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = exported["out"]
    metas = {fmt: READERS[fmt](out / f"best.{fmt}") for fmt in ("onnx", "torchscript")}
    for meta in metas.values():
        assert meta["name"] == "best"
        assert meta["dfdet_version"] == __version__
        assert meta["version"] == meta["checkpoint_sha256"][:12]
        assert meta["input_shape"][0] == "batch"
    return metas


def test_clip_model_exports_clips_with_dynamic_batch(clip_export: dict[str, Any]) -> None:
    spec = clip_export["model"].contract
    assert spec.clip_len == 3 and spec.clip_stride == 1 and spec.modality == "face" and spec.input_key == "clip"
    assert spec.shape("batch") == ("batch", 3, 3, spec.size, spec.size)
    _check_parity(clip_export, spec, ("normal", "faces"))
    for meta in _metadata(clip_export).values():
        assert meta["modality"] == "face" and meta["clip_len"] == 3 and meta["clip_stride"] == 1
        assert meta["input_shape"] == ["batch", 3, 3, spec.size, spec.size]
        assert InputContract.from_dict(meta["input_contract"]) == spec  # the whole contract travels
        assert meta["input_layout"].startswith("NTCHW") and "sample_rate" not in meta


def test_audio_model_exports_waveforms(audio_export: dict[str, Any]) -> None:
    spec = audio_export["model"].contract
    assert spec.sample_rate == 16000 and spec.clip_len is None and spec.modality == "audio"
    assert spec.shape(2) == (2, 8000)
    speech = make_inputs(spec, 2, "speech", np.random.default_rng(0))
    assert speech.dtype == torch.float32 and speech.abs().max() <= 1 and speech.std() > 0.01
    _check_parity(audio_export, spec, ("normal", "speech"))
    for meta in _metadata(audio_export).values():
        assert meta["modality"] == "audio" and meta["sample_rate"] == 16000 and meta["num_samples"] == 8000
        assert meta["input_shape"] == ["batch", 8000] and meta["input_size"] == 8000
        assert meta["backbone"] == "LCNN" and "clip_len" not in meta
        assert InputContract.from_dict(meta["input_contract"]) == spec
