"""Self-supervised front-ends (tiny random wav2vec 2.0 / WavLM / HuBERT of the real transformers classes) with the
linear, AASIST, SLS and MHFA back-ends: shapes, gradients, layer choice, freezing, LoRA, offline weights, and a tiny
configuration that trains through the config and exports to ONNX with parity."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from dfdet.errors import ModelConfigError
from dfdet.models.ssl import AASISTBackend, LinearBackend, MHFABackend, SLSBackend, SSLDetector, SSLFrontend
from dfdet.models.tuning import LoRA, count_parameters, merge_for_export

CONF = Path(__file__).resolve().parents[2] / "conf"
TINY = OmegaConf.to_container(OmegaConf.load(CONF / "model" / "ssl_frontend" / "tiny.yaml").config)
TINY_SSL = ["model=ssl", "model/ssl_frontend=tiny", "model.input.num_samples=8000", "data.batch_size=4"]


def tiny(model_type: str = "wav2vec2", **kwargs) -> SSLFrontend:
    torch.manual_seed(0)
    config = {**TINY, "model_type": model_type, **({"num_buckets": 16} if model_type == "wavlm" else {})}
    return SSLFrontend(config=config, **kwargs)


@pytest.mark.parametrize("model_type", ["wav2vec2", "wavlm", "hubert"])
@pytest.mark.parametrize("backend", [LinearBackend, AASISTBackend, SLSBackend, MHFABackend])
def test_backends_shapes_and_gradients(model_type: str, backend: type) -> None:
    frontend = tiny(model_type)
    small = {AASISTBackend: {"proj_dim": 24, "encoder_channels": (4, 4, 8, 8)}, SLSBackend: {"hidden": 16}}
    net = SSLDetector(frontend, functools.partial(backend, **small.get(backend, {})), num_samples=4000).train()
    out = net(0.1 * torch.randn(2, 4000))
    assert out.shape == (2, 1) and torch.isfinite(out).all()
    out.sum().backward()
    assert frontend.model.feature_extractor.conv_layers[0].conv.weight.grad is not None  # fine-tuned end to end
    # every back-end weight learns, but the pre-activation norms the release's residual blocks hold and skip
    assert all(p.grad is not None for n, p in net.backend.named_parameters() if ".pre." not in n)


def test_layer_selection_and_weighted_sum() -> None:
    frontend = tiny(layers=[0, -1]).eval()
    x = 0.1 * torch.randn(2, 4000)
    h = frontend(x)
    assert h.shape == (2, 2, frontend.frames(4000), 16) and frontend.num_layers == 2
    states = frontend.model((x - x.mean(1, keepdim=True)) / x.std(1, unbiased=False, keepdim=True),
                            output_hidden_states=True).hidden_states  # fmt: skip
    assert torch.allclose(h[:, 1], states[-1], atol=1e-5) and torch.allclose(h[:, 0], states[0], atol=1e-5)
    backend = LinearBackend(16, 2, h.shape[2])
    with torch.no_grad():
        backend.layer_sum.weights.copy_(torch.tensor([0.0, 50.0]))  # all weight on the last layer
    assert torch.allclose(backend.layer_sum(h), h[:, 1], atol=1e-5)
    with pytest.raises(ModelConfigError, match="distinct"):
        tiny(layers=[1, -2])  # the same layer twice (3 hidden states)


def test_frozen_frontend_trains_the_backend_only() -> None:
    net = SSLDetector(tiny(freeze=True), functools.partial(MHFABackend, heads=2, compression=8, embedding=8), 4000)
    net.train()
    assert not net.frontend.model.training  # its dropout stays off
    trained, total = count_parameters(net)
    assert trained == count_parameters(net.backend)[0] and trained < total
    net(0.1 * torch.randn(2, 4000)).sum().backward()
    assert all(p.grad is None for p in net.frontend.parameters())


def test_lora_adapts_the_frontend_and_merges_for_export() -> None:
    net = LoRA(r=2, alpha=4, targets=["q_proj", "v_proj"])(SSLDetector(tiny(), functools.partial(LinearBackend), 4000))
    names = [n for n, p in net.named_parameters() if p.requires_grad]
    assert any("lora_" in n for n in names) and any(n.startswith("backend.") for n in names)
    assert not any(n.endswith("feature_projection.projection.weight") for n in names)
    for name, p in net.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.1)  # a trained adapter
    x = 0.1 * torch.randn(2, 4000)
    with torch.no_grad():
        before = net.eval()(x)
        merged = merge_for_export(net)
        assert not any("lora" in n for n, _ in merged.named_parameters())
        assert torch.allclose(merged(x), before, atol=1e-5)


@pytest.mark.slow  # saves and reloads a model folder through transformers (about 20 s)
def test_weights_from_a_local_folder_and_a_clear_message_when_missing(tmp_path: Path, monkeypatch) -> None:
    source = tiny("hubert")
    source.model.save_pretrained(tmp_path / "hubert")
    loaded = SSLFrontend(name=str(tmp_path / "hubert"))
    for a, b in zip(source.model.state_dict().values(), loaded.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty_cache"))
    with pytest.raises(ModelConfigError, match="hub cache") as err:
        SSLFrontend(name="facebook/wav2vec2-xls-r-300m")
    assert "\n" not in str(err.value) and "model.net.frontend.name=/path/to/folder" in str(err.value)
    with pytest.raises(ModelConfigError, match="name"):
        SSLFrontend()


def test_tiny_ssl_config_trains_and_exports_with_parity(tiny_cfg, compose_cfg, asvspoof_root: Path, tmp_path) -> None:
    from dfdet.tasks.export import export
    from dfdet.tasks.train import train

    cfg = tiny_cfg("data=asvspoof2019_la", f"data.root={asvspoof_root}", *TINY_SSL, "model/ssl_backend=mhfa")
    metrics = train(cfg)
    assert 0.0 <= metrics["test/eer"] <= 1.0
    ckpt = tmp_path / "run" / "checkpoints" / "best.ckpt"
    exported = export(compose_cfg("export", [f"ckpt_path={ckpt}", f"output_dir={tmp_path / 'exp'}", "speed=null"]))
    assert max(exported["onnx"]["max_abs_diff"].values()) <= 1e-4


SMALL_BACKEND = {
    "xlsr_aasist": ["model.net.backend.proj_dim=24", "model.net.backend.encoder_channels=[4,4,8,8]"],
    "xlsr_sls": ["model.net.backend.hidden=16"],
    "wavlm_mhfa": ["model.net.backend.heads=2", "model.net.backend.compression=8", "model.net.backend.embedding=8"],
}


@pytest.mark.slow
@pytest.mark.parametrize("experiment", ["xlsr_aasist", "xlsr_sls", "wavlm_mhfa"])
def test_ssl_experiments_run_tiny(tiny_cfg, asvspoof_root: Path, experiment: str) -> None:
    """Each recipe with its front-end swapped for the tiny one (no weights here) runs a few steps on CPU
    (tests/test_configs.py leaves these experiments to this test)."""
    from dfdet.tasks.train import train

    cfg = tiny_cfg(
        f"experiment={experiment}", "data=asvspoof2019_la", f"data.root={asvspoof_root}", *TINY_SSL,
        "model.net.frontend.layers=null", *SMALL_BACKEND[experiment], "trainer.accelerator=cpu", "data.num_workers=0",
        "trainer.limit_train_batches=2", "trainer.limit_val_batches=2", "trainer.limit_test_batches=2",
    )  # fmt: skip
    assert cfg.model.net.frontend.config.model_type == "wav2vec2" and cfg.data.train_transform.steps
    metrics = train(cfg)
    assert "test/auc" in metrics
