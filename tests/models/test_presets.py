"""Foundation-model presets (conf/model/{clip_b16,clip_l14,dinov2_l14,pe_l14,convnext_b}.yaml) and model.net.feature."""

from __future__ import annotations

import pytest
import timm
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from dfdet.errors import ModelConfigError
from dfdet.models import build_backbone
from dfdet.models.backbone import feature_settings

PRESETS = {  # preset -> (timm name, tiny stand-in for the test)
    "clip_b16": ("vit_base_patch16_clip_quickgelu_224.openai", "test_vit"),
    "clip_l14": ("vit_large_patch14_clip_quickgelu_224.openai", "test_vit"),
    "dinov2_l14": ("vit_large_patch14_dinov2.lvd142m", "test_vit"),
    "pe_l14": ("vit_pe_core_large_patch14_336", "test_vit"),
    "convnext_b": ("convnext_base.fb_in22k_ft_in1k", "test_convnext"),
}


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_preset_normalisation_is_the_backbones_pretrained_one(compose_cfg, preset: str) -> None:
    name, _ = PRESETS[preset]
    model = compose_cfg("train", [f"model={preset}"]).model
    assert model.net.name == name and model.net.pretrained is True
    pretrained_cfg = timm.models.get_pretrained_cfg(name).to_dict()  # what resolve_model_data_config reads
    data = timm.data.resolve_data_config({}, pretrained_cfg=pretrained_cfg)
    assert tuple(model.input.mean) == pytest.approx(data["mean"], abs=1e-9)
    assert tuple(model.input.std) == pytest.approx(data["std"], abs=1e-9)


@pytest.mark.parametrize("preset", sorted(PRESETS))
@pytest.mark.parametrize("tuning", ["full", "linear_probe"])
def test_preset_builds_with_a_tiny_stand_in(tiny_cfg, preset: str, tuning: str) -> None:
    _, tiny = PRESETS[preset]
    vit = tiny == "test_vit"
    cfg = tiny_cfg(
        f"model={preset}", f"model/tuning={tuning}", f"model.net.name={tiny}", "model.net.pretrained=false",
        "model.input.size=64", *(["++model.net.img_size=64"] if vit else []),
    )  # fmt: skip
    model = instantiate(cfg.model)
    assert model.eval()(torch.randn(2, 3, 64, 64)).shape == (2,)
    assert OmegaConf.select(cfg, "model.tuning._target_").startswith("dfdet.models.tuning.")


@pytest.mark.parametrize(
    ("feature", "pool", "blocks"),
    [
        (None, "token", 6),
        ("cls", "token", 6),
        ("pooled", "avg", 6),
        ("penultimate", "token", 5),
        ("layer:2", "token", 3),
    ],
)
def test_feature_choice(feature: str | None, pool: str, blocks: int) -> None:
    net = build_backbone("test_vit", img_size=32, feature=feature)
    assert (net.global_pool, len(net.blocks), net.num_features) == (pool, blocks, 64)
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 1)


def test_feature_errors_name_the_key() -> None:
    with pytest.raises(ModelConfigError, match="model.net.feature=middle"):
        feature_settings("middle")
    with pytest.raises(ModelConfigError, match="needs a transformer with blocks"):
        build_backbone("test_convnext", feature="penultimate")
    with pytest.raises(ModelConfigError, match="has 6 blocks"):
        build_backbone("test_vit", feature="layer:6")
