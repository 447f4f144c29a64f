"""Published weights in: each converter against its source architecture, built from its public package at random
initialisation (tiny configurations), on the same input (``import_weights.py`` end to end)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from dfdet.errors import CheckpointError, ModelConfigError
from dfdet.models import load_detector
from dfdet.tasks.import_weights import import_weights

# A tiny CLIP ViT in both libraries: timm's CLIP preset with smaller sizes, transformers' CLIPVisionConfig alike.
TINY_VIT = ["++model.net.embed_dim=32", "++model.net.depth=2", "++model.net.num_heads=2", "++model.net.patch_size=8",
            "++model.net.mlp_ratio=2", "++model.net.img_size=32", "model.input.size=32"]  # fmt: skip


def hf_clip(projection: bool = False) -> nn.Module:
    from transformers import CLIPVisionConfig, CLIPVisionModel, CLIPVisionModelWithProjection

    config = CLIPVisionConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                              image_size=32, patch_size=8, projection_dim=16, hidden_act="quick_gelu")  # fmt: skip
    torch.manual_seed(0)
    model = (CLIPVisionModelWithProjection if projection else CLIPVisionModel)(config).eval()
    with torch.no_grad():  # non-trivial LayerNorms (transformers initialises them to 1 / 0)
        for module in model.modules():
            if isinstance(module, nn.LayerNorm):
                module.weight.normal_(1.0, 0.2)
                module.bias.normal_(0.0, 0.2)
    return model


def tower(model: nn.Module) -> nn.Module:
    """The CLIPVisionTransformer (transformers 4: ``model.vision_model``; 5: the model itself): the layout
    DeepfakeBench's ``CLIPModel.vision_model`` and GenD's ``vision_model`` save."""
    return getattr(model, "vision_model", model)


def two_class_head(dim: int) -> nn.Linear:
    torch.manual_seed(1)
    head = nn.Linear(dim, 2)
    nn.init.normal_(head.weight, std=0.5)
    return head


def convert(tmp_path: Path, compose_cfg, published: str, state: dict, *overrides: str) -> Path:
    source = tmp_path / "released.pth"
    torch.save(state, source)
    out = tmp_path / f"{published}.ckpt"
    cfg = compose_cfg("import_weights", [f"published={published}", f"weights={source}", f"output={out}",
                                         f"paths.output_dir={tmp_path}", *overrides])  # fmt: skip
    return import_weights(cfg)


def fake_probability(ckpt: Path, x: torch.Tensor) -> torch.Tensor:
    model, _ = load_detector(ckpt)
    with torch.no_grad():
        return torch.sigmoid(model(x))


def test_deepfakebench_clip_matches_transformers(tmp_path: Path, compose_cfg) -> None:
    backbone, head = hf_clip(), two_class_head(32)
    state = {**{f"backbone.{k}": v for k, v in tower(backbone).state_dict().items()},
             **{f"head.{k}": v for k, v in head.state_dict().items()}}  # fmt: skip
    ckpt = convert(tmp_path, compose_cfg, "deepfakebench_clip", state, *TINY_VIT)
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        expected = head(backbone(pixel_values=x).pooler_output).softmax(1)[:, 1]
    torch.testing.assert_close(fake_probability(ckpt, x), expected, atol=1e-4, rtol=0)


def test_gend_matches_its_transformers_model(tmp_path: Path, compose_cfg) -> None:
    """GenD: CLIP's pooler output, L2-normalised, into a 2-class linear layer; imported as model/tuning=layernorm."""
    backbone, head = hf_clip(), two_class_head(32)
    state = {**{f"feature_extractor.vision_model.{k}": v for k, v in tower(backbone).state_dict().items()},
             **{f"model.linear.{k}": v for k, v in head.state_dict().items()}}  # fmt: skip
    ckpt = convert(tmp_path, compose_cfg, "gend", state, *TINY_VIT)
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        features = nn.functional.normalize(backbone(pixel_values=x).pooler_output, dim=1)
        expected = head(features).softmax(1)[:, 1]
    torch.testing.assert_close(fake_probability(ckpt, x), expected, atol=1e-4, rtol=0)
    model, cfg = load_detector(ckpt)
    assert cfg.model.tuning._target_.endswith("LayerNormTuning")
    trained = {n for n, p in model.net.named_parameters() if p.requires_grad}
    assert trained and all("norm" in n or n.startswith("head.") for n in trained)  # GenD's parameters train on


def effort_layout(backbone: nn.Module) -> dict[str, torch.Tensor]:
    """Effort's SVD residual attention projections (its replace_with_svd_residual, r = k - 1), with a residual moved
    away from its initial value as training would, and the plain model's weights set to what Effort computes."""
    state = dict(tower(backbone).state_dict())
    generator = torch.Generator().manual_seed(2)
    for name, module in tower(backbone).named_modules():
        if name.rsplit(".", 1)[-1] not in ("q_proj", "k_proj", "v_proj", "out_proj"):
            continue
        u, s, vh = torch.linalg.svd(module.weight.detach(), full_matrices=False)
        r = len(s) - 1
        parts = {"weight_main": (u[:, :r] * s[:r]) @ vh[:r], "U_residual": u[:, r:],
                 "S_residual": s[r:] + torch.rand(1, generator=generator), "V_residual": vh[r:]}  # fmt: skip
        del state[f"{name}.weight"]
        state.update({f"{name}.{k}": v for k, v in parts.items()})
        with torch.no_grad():  # Effort's forward: F.linear(x, weight_main + U diag(S) V, bias)
            module.weight.copy_(parts["weight_main"] + parts["U_residual"] @ torch.diag(parts["S_residual"])
                                @ parts["V_residual"])  # fmt: skip
    return state


def test_effort_matches_its_svd_residual_model(tmp_path: Path, compose_cfg) -> None:
    backbone, head = hf_clip(), two_class_head(32)
    state = {f"backbone.{k}": v for k, v in effort_layout(backbone).items()}
    state.update({f"head.{k}": v for k, v in head.state_dict().items()})
    ckpt = convert(tmp_path, compose_cfg, "effort", state, *TINY_VIT)
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        expected = head(backbone(pixel_values=x).pooler_output).softmax(1)[:, 1]
    torch.testing.assert_close(fake_probability(ckpt, x), expected, atol=1e-4, rtol=0)
    model, _ = load_detector(ckpt)
    assert type(model.net.blocks[0].attn.qkv).__name__ == "SVDResidualLinear"  # model/tuning=svd_residual
    # export.py takes it unchanged: the merged ONNX graph gives the source's scores too
    from dfdet.export.formats import load_onnx
    from dfdet.tasks.export import export

    out = tmp_path / "exported"
    export(compose_cfg("export", [f"ckpt_path={ckpt}", f"output_dir={out}", "format=onnx", "speed=null"]))
    torch.testing.assert_close(torch.sigmoid(load_onnx(out / "effort.onnx")(x)), expected, atol=1e-4, rtol=0)


def openai_layout(model: nn.Module) -> dict[str, torch.Tensor]:
    """A transformers CLIPVisionModelWithProjection's weights under OpenAI CLIP's names (clip/model.py's
    VisionTransformer: conv1, class_embedding, positional_embedding, ln_pre, transformer.resblocks.N.{ln_1, attn
    .in_proj_*, attn.out_proj, ln_2, mlp.c_fc, mlp.c_proj}, ln_post, proj = visual_projection.weight.T)."""
    sd = model.state_dict()
    v = "vision_model."
    out = {"visual.conv1.weight": sd[f"{v}embeddings.patch_embedding.weight"],
           "visual.class_embedding": sd[f"{v}embeddings.class_embedding"],
           "visual.positional_embedding": sd[f"{v}embeddings.position_embedding.weight"],
           "visual.proj": sd["visual_projection.weight"].T}  # fmt: skip
    for src, dst in (("pre_layrnorm", "ln_pre"), ("post_layernorm", "ln_post")):
        out.update({f"visual.{dst}.{p}": sd[f"{v}{src}.{p}"] for p in ("weight", "bias")})
    for i in range(2):
        src, dst = f"{v}encoder.layers.{i}", f"visual.transformer.resblocks.{i}"
        for p in ("weight", "bias"):
            out[f"{dst}.attn.in_proj_{p}"] = torch.cat([sd[f"{src}.self_attn.{q}_proj.{p}"] for q in "qkv"])
            for a, b in (("self_attn.out_proj", "attn.out_proj"), ("layer_norm1", "ln_1"), ("layer_norm2", "ln_2"),
                         ("mlp.fc1", "mlp.c_fc"), ("mlp.fc2", "mlp.c_proj")):  # fmt: skip
                out[f"{dst}.{b}.{p}"] = sd[f"{src}.{a}.{p}"]
    return out


@pytest.mark.parametrize("layout", ["openai", "transformers"])
def test_univfd_matches_a_linear_probe_on_clip_embeddings(tmp_path: Path, compose_cfg, layout: str) -> None:
    clip = hf_clip(projection=True)
    torch.manual_seed(3)
    fc = nn.Linear(16, 1)  # UnivFD's fc on the 16-d projected embedding (768-d for ViT-L/14)
    encoder = tmp_path / "clip.pt"
    torch.save(openai_layout(clip) if layout == "openai" else clip.state_dict(), encoder)
    state = {f"fc.{k}": v for k, v in fc.state_dict().items()}
    overrides = [*TINY_VIT, f"published.convert.encoder={encoder}", "model.input.resize=null"]
    ckpt = convert(tmp_path, compose_cfg, "univfd", state, *overrides)
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        expected = torch.sigmoid(fc(clip(pixel_values=x).image_embeds)).squeeze(1)
    torch.testing.assert_close(fake_probability(ckpt, x), expected, atol=1e-4, rtol=0)


@pytest.mark.parametrize("scale", ["b0", pytest.param("b4", marks=pytest.mark.slow)])
def test_sbi_matches_efficientnet_pytorch(tmp_path: Path, compose_cfg, scale: str) -> None:
    """SBI's Detector is ``EfficientNet.from_pretrained("efficientnet-b4", advprop=True, num_classes=2)`` under
    ``net``; here the same network at random initialisation, its static "same" padding computed for 64-px inputs:
    B4 itself (slow), and B0 (the same block types, fewer and narrower) in the quick run."""
    from efficientnet_pytorch import EfficientNet

    torch.manual_seed(4)
    source = EfficientNet.from_name(f"efficientnet-{scale}", num_classes=2, image_size=64).eval()
    with torch.no_grad():  # non-trivial batch-norm statistics
        for module in source.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.normal_(0, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    ckpt = convert(tmp_path, compose_cfg, "sbi", {"model": {f"net.{k}": v for k, v in source.state_dict().items()}},
                   "model.input.size=64", f"model.net.name=tf_efficientnet_{scale}")  # fmt: skip
    x = torch.rand(2, 3, 64, 64)  # SBI's inputs: pixels / 255
    with torch.no_grad():
        expected = source(x).softmax(1)[:, 1]
    torch.testing.assert_close(fake_probability(ckpt, x), expected, atol=1e-4, rtol=0)


def deepfakebench_efficientnet(scale: str) -> tuple[nn.Module, nn.Module]:
    """DeepfakeBench's EfficientNetB4 backbone (training/networks/efficientnetb4.py, ``mode: Original``, no dropout):
    efficientnet_pytorch's network (its default image_size: its static paddings) with an unpadded stem and no ``_fc``,
    then ``last_layer``. Random BN affines, running statistics those of random 256-px inputs (a network whose output
    depends on its input), and a head centred on their features."""
    from efficientnet_pytorch import EfficientNet

    torch.manual_seed(6)
    efficientnet = EfficientNet.from_name(f"efficientnet-{scale}")
    stem = efficientnet._conv_stem.out_channels
    efficientnet._conv_stem = nn.Conv2d(3, stem, kernel_size=3, stride=2, bias=False)
    efficientnet._fc = nn.Identity()
    last_layer = nn.Linear(efficientnet._conv_head.out_channels, 2)
    with torch.no_grad():
        for module in efficientnet.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.weight.uniform_(0.5, 1.5)
                module.bias.normal_(0, 0.2)
                module.momentum = None  # cumulative: the statistics of the batch below
        x = torch.randn(2, 3, 256, 256)
        efficientnet.train()(x)
        features = nn.functional.adaptive_avg_pool2d(efficientnet.eval().extract_features(x), 1).flatten(1)
        last_layer.weight.normal_(0, 0.2)
        last_layer.bias.copy_(-last_layer.weight @ features.mean(0))  # logits about 0: unsaturated probabilities
    return efficientnet, last_layer.eval()


@pytest.mark.parametrize("scale", ["b0", pytest.param("b4", marks=pytest.mark.slow)])
def test_deepfakebench_efficientnet_matches_efficientnet_pytorch(tmp_path: Path, compose_cfg, scale: str) -> None:
    """At DeepfakeBench's 256 px the converted model gives the source's probabilities, and timm's own tf_efficientnet
    with the same tensors does not (its dynamic padding differs in the stride-2 layers). B4 itself (image_size 380;
    slow), and B0 (the same block types, image_size 224) in the quick run, which also checks 160 px and exports the
    checkpoint to ONNX with the source's scores."""
    efficientnet, last_layer = deepfakebench_efficientnet(scale)
    state = {**{f"backbone.efficientnet.{k}": v for k, v in efficientnet.state_dict().items()},
             **{f"backbone.last_layer.{k}": v for k, v in last_layer.state_dict().items()}}  # fmt: skip
    padding = efficientnet._global_params.image_size  # 380 for B4: the config's padding_size
    ckpt = convert(tmp_path, compose_cfg, "deepfakebench_efficientnet_b4", {"state_dict": state},
                   f"model.net.name=tf_efficientnet_{scale}", f"model.net.padding_size={padding}")  # fmt: skip
    model, _ = load_detector(ckpt)
    torch.manual_seed(7)
    for size in (160, 256) if scale == "b0" else (256,):  # 256 last: x and expected at DeepfakeBench's size
        x = torch.randn(2, 3, size, size)
        with torch.no_grad():  # DeepfakeBench's features (extract_features), then classifier (pool, last_layer)
            features = nn.functional.adaptive_avg_pool2d(efficientnet.extract_features(x), 1).flatten(1)
            expected = last_layer(features).softmax(1)[:, 1]
            converted = torch.sigmoid(model(x))
        assert expected.max() - expected.min() > 1e-2  # the scores depend on the image (100x the tolerance)
        torch.testing.assert_close(converted, expected, atol=1e-4, rtol=0)

    import timm

    dynamic = timm.create_model(f"tf_efficientnet_{scale}", num_classes=1).eval()
    dynamic.load_state_dict(model.net.state_dict())  # the same tensors, timm's dynamic "same" padding
    with torch.no_grad():
        assert (torch.sigmoid(dynamic(x)).squeeze(1) - expected).abs().max() > 1e-2  # 0.15 (B0), 0.11 (B4) here
    if scale != "b0":
        return
    from dfdet.export.formats import load_onnx
    from dfdet.tasks.export import export

    out = tmp_path / "exported"
    # verify=false: the graph is checked against the source itself below
    export(
        compose_cfg("export", [f"ckpt_path={ckpt}", f"output_dir={out}", "format=onnx", "speed=null", "verify=false"])
    )
    onnx = load_onnx(next(out.glob("*.onnx")))
    torch.testing.assert_close(torch.sigmoid(onnx(x)), expected, atol=1e-4, rtol=0)


@pytest.mark.slow
def test_deepfakebench_xception_layout(tmp_path: Path, compose_cfg) -> None:
    """DeepfakeBench's Xception (training/networks/xception.py) has the module tree of timm's legacy_xception (both
    the FaceForensics++ / Cadene code): the names its checkpoints hold are checked here, and the 2-class
    ``last_linear`` head, its unused ``adjust_channel`` branch and the ``backbone.`` prefix are converted. The source
    network is timm's own (DeepfakeBench is no package): what this proves is the mapping, not the architecture."""
    import timm

    torch.manual_seed(5)
    source = timm.create_model("legacy_xception", num_classes=2).eval()
    sd = source.state_dict()
    for name in (
        "conv1.weight",
        "block1.rep.0.conv1.weight",
        "block1.rep.0.pointwise.weight",
        "block1.skipbn.weight",
        "block12.rep.4.pointwise.weight",
        "conv3.conv1.weight",
        "conv4.pointwise.weight",
        "bn4.running_var",
    ):
        assert name in sd  # DeepfakeBench's names for the same tensors  # fmt: skip
    state = {f"backbone.{k.replace('fc.', 'last_linear.')}": v for k, v in sd.items()}
    state["backbone.adjust_channel.0.weight"] = torch.zeros(512, 2048, 1, 1)
    ckpt = convert(tmp_path, compose_cfg, "deepfakebench_xception", {"module." + k: v for k, v in state.items()})
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        expected = source(x).softmax(1)[:, 1]
    torch.testing.assert_close(fake_probability(ckpt, x), expected, atol=1e-4, rtol=0)


def test_missing_and_foreign_files_are_one_line(tmp_path: Path, compose_cfg) -> None:
    cfg = compose_cfg("import_weights", ["published=gend", f"weights={tmp_path / 'absent.safetensors'}",
                                         f"paths.output_dir={tmp_path}", *TINY_VIT])  # fmt: skip
    with pytest.raises(ModelConfigError, match="does not exist"):
        import_weights(cfg)
    with pytest.raises(CheckpointError, match="not a GenD checkpoint"):
        convert(tmp_path, compose_cfg, "gend", {"head.weight": torch.zeros(2, 32)}, *TINY_VIT)
    with pytest.raises(ModelConfigError, match="published.convert.encoder"):
        convert(tmp_path, compose_cfg, "univfd", {"fc.weight": torch.zeros(1, 16)}, *TINY_VIT)


@pytest.mark.parametrize("experiment", ["effort_clip_l14", "gend_clip_l14", "univfd_clip_l14"])
def test_foundation_experiments_without_weights_say_where(compose_cfg, tmp_path: Path, monkeypatch, experiment) -> None:
    """No CLIP weights on disk: the backbone factory's one-line message, before any network is built."""
    from dfdet.tasks.common import build

    for var in ("HF_HOME", "HF_HUB_CACHE", "TORCH_HOME"):
        monkeypatch.setenv(var, str(tmp_path / var))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cfg = compose_cfg("train", [f"experiment={experiment}"])
    with pytest.raises(ModelConfigError, match="vit_large_patch14_clip_quickgelu_224.openai' are not reachable"):
        build(cfg.model.net)


def test_cli_missing_weights_is_one_line(run_cli, tmp_path: Path) -> None:
    done = run_cli("import_weights.py", "published=sbi", f"weights={tmp_path / 'FFc23.tar'}")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        f"error: weights={tmp_path / 'FFc23.tar'} does not exist: put the released file there "
        "(docs/foundation_models.md)"
    )


class _RunsCode:
    def __reduce__(self):  # unpickling it would call print (any callable could be here)
        return (print, ("released file ran code",))


def test_a_released_file_that_would_run_code_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """Released weights are read with weights_only=True: a pickle carrying code is refused and nothing runs."""
    from dfdet.models.published import read_state

    path = tmp_path / "sbi.tar"
    torch.save({"model": {"w": torch.zeros(1), "hook": _RunsCode()}}, path)
    with pytest.raises(CheckpointError, match="not a readable PyTorch file"):
        read_state(path)
    assert "released file ran code" not in capsys.readouterr().out
