"""The joint audio-visual detector (model=av_joint): both fusions, per-modality auxiliary losses, export of the
two-input graph with parity against eager PyTorch, and train -> export -> predict on talking clips with sound."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate

from dfdet.models.audio_visual import CrossAttention, JointAudioVisualNet

TINY = ["model=av_joint_tiny", "data=av_folder"]


def tiny_model(compose_cfg, *overrides: str):  # type: ignore[no-untyped-def]
    return instantiate(compose_cfg("train", [*TINY, "trainer.max_epochs=1", *overrides]).model)


def inputs(batch: int = 3) -> dict[str, torch.Tensor]:
    return {"clip": torch.randn(batch, 2, 3, 32, 32), "audio": torch.randn(batch, 4000)}


@pytest.mark.parametrize("fusion", ["concat", "cross_attention"])
def test_both_fusions_give_one_logit_per_clip(compose_cfg, fusion: str) -> None:
    model = tiny_model(compose_cfg, f"model.net.fusion={fusion}").eval()
    assert isinstance(model.net, JointAudioVisualNet) and model.contract.input_keys == ("clip", "audio")
    x = inputs()
    out = model(x)
    assert out.shape == (3,)
    x["audio"] = torch.zeros_like(x["audio"])  # the sound changes the score: both branches reach the logit
    assert not torch.allclose(model(x), out)


def test_auxiliary_losses_use_the_known_labels_only(compose_cfg) -> None:
    model = tiny_model(compose_cfg).train()
    batch = {**inputs(4), "label": torch.tensor([0.0, 1, 1, 1]), "video_idx": torch.arange(4),
             "video_label": torch.tensor([0.0, 1, -1, -1]), "audio_label": torch.full((4,), -1.0),
             "segment_label": torch.tensor([0.0, 1, 0, 1])}  # fmt: skip
    logits = model.net(batch)
    last = {k: v.detach().clone() for k, v in model.net._last.items()}
    terms = model.net.auxiliary_losses(batch)
    assert set(terms) == {"video_loss", "segment_loss"}  # no audio label is known
    expected = 0.5 * torch.nn.functional.binary_cross_entropy_with_logits(last["video"][:2], torch.tensor([0.0, 1]))
    assert torch.allclose(terms["video_loss"], expected)
    assert torch.allclose(last["fused"], logits.reshape(-1).detach())
    loss = model.training_step(batch, 0)
    loss.backward()
    assert model.net.video_head.weight.grad is not None and model.net.audio_head.weight.grad is None
    with pytest.raises(ValueError, match="fusion must be one of"):
        JointAudioVisualNet(model.net.face, model.net.audio, fusion="sum")
    with pytest.raises(ValueError, match="has no forward_frames"):
        JointAudioVisualNet(model.net.face, torch.nn.Linear(4, 4))


def test_cross_attention_attends_over_the_other_modality() -> None:
    layer = CrossAttention(8, heads=2).eval()
    query, context = torch.randn(2, 3, 8), torch.randn(2, 5, 8)
    out = layer(query, context)
    assert out.shape == (2, 3, 8)
    assert not torch.allclose(layer(query, context.flip(1) * 2), out)  # the context matters


def test_two_input_export_matches_eager(compose_cfg, tmp_path: Path) -> None:
    from dfdet.export import ExportOptions, export_detector
    from dfdet.export.formats import load_onnx, read_onnx_metadata

    model = tiny_model(compose_cfg).eval()
    options = ExportOptions(formats=("onnx",), speed_batch_size=None, batch_sizes=(1, 3))
    result = export_detector(model, {"model": {}}, tmp_path, "av", options)["onnx"]
    assert set(result["max_abs_diff"]) == {"normal b1", "normal b3", "faces b1", "faces b3"}
    assert max(result["max_abs_diff"].values()) <= 1e-4
    meta = read_onnx_metadata(tmp_path / "av.onnx")
    assert meta["input_name"] == ["clip", "audio"]
    assert meta["input_shape"] == {"clip": ["batch", 2, 3, 32, 32], "audio": ["batch", 4000]}
    x = inputs(5)
    with torch.inference_mode():
        expected = model(x)
    assert torch.allclose(load_onnx(tmp_path / "av.onnx")(x), expected, atol=1e-4)


@pytest.mark.slow
def test_train_export_predict_on_talking_clips(compose_cfg, tmp_path: Path) -> None:
    """Talking clips with sound -> face crops (preprocess.py) -> a few training steps -> ONNX -> prediction."""
    from hydra import compose, initialize_config_dir

    from dfdet.export import ExportOptions, export_detector
    from dfdet.models import load_detector
    from dfdet.predict import Predictor, load_model
    from dfdet.tasks.preprocess import preprocess
    from dfdet.tasks.train import train
    from dfdet.testing.media import make_av_folder

    root = tmp_path / "talking"
    make_av_folder(root, per_split=2, seconds=1.0, fps=10)
    common = [f"data.root={root}", f"paths.data_dir={tmp_path / 'data'}", f"paths.output_dir={tmp_path / 'run'}"]
    conf = str(Path(__file__).resolve().parents[2] / "conf")
    with initialize_config_dir(conf, version_base="1.3"):
        preprocess(compose("preprocess", [*common, "data=av_folder", "data.frames_per_video=4",
                                          "preprocessor.detect_every=1", "preprocessor.cropper.size=64", "workers=1",
                                          "progress=false"]))  # fmt: skip
    cfg = compose_cfg("train", [*TINY, *common, "trainer.max_epochs=1", "trainer.accelerator=cpu",
                                "trainer.enable_progress_bar=false", "data.batch_size=4", "logger=csv",
                                "trainer.log_every_n_steps=1"])  # fmt: skip
    metrics = train(cfg)
    assert "test/auc" in metrics and (tmp_path / "run" / "checkpoints" / "best.ckpt").is_file()
    log = next((tmp_path / "run").rglob("metrics.csv")).read_text()
    assert "train/segment_loss" not in log and "train/loss" in log  # folder data: no segment labels
    model, stored = load_detector(tmp_path / "run" / "checkpoints" / "best.ckpt")
    assert model.contract.modality == "audio_visual" and model.contract.crop_margin is not None
    options = ExportOptions(formats=("onnx",), speed_batch_size=None, batch_sizes=(1, 2))
    export_detector(model, model.run_config or {}, tmp_path / "exported", "av", options)
    with initialize_config_dir(conf, version_base="1.3"):
        faces = instantiate(compose("predict", ["model_path=unused", "input=unused",
                                                "predictor.faces.frames_per_video=6"]).predictor.faces)  # fmt: skip
    video = next((root / "fake").glob("*.mp4"))
    for path in (tmp_path / "exported" / "av.onnx", tmp_path / "run" / "checkpoints" / "best.ckpt"):
        predictor = Predictor(load_model(path), faces)
        assert predictor.info.modality == "audio_visual" and predictor.info.explanation_method is None
        result = predictor.predict(video).result
        assert "error" not in result, result
        assert result["audio_present"] is True and len(result["clips"]) == 3  # 6 frames, clips of 2
        assert 0 <= result["fake_probability"] <= 1 and isinstance(result["fake_segments"], list)
        json.dumps(result)
    silent = next((root / "real").glob("silent*.mp4"))
    onnx = Predictor(load_model(tmp_path / "exported" / "av.onnx"), faces)
    assert onnx.predict(silent).result["audio_present"] is False
