"""TF "same" padding frozen at one input size (efficientnet_pytorch's Conv2dStaticSamePadding) on timm networks."""

from __future__ import annotations

import pytest
import timm
import torch

from dfdet.errors import ModelConfigError
from dfdet.models.static_padding import StaticPadConv2d, build_static_padding_backbone, freeze_same_padding

TF_NET = "tf_mobilenetv3_small_minimal_100"  # a small timm network with TF "same" padding (Conv2dSame)


def test_frozen_padding_equals_the_dynamic_one_at_its_size_only() -> None:
    torch.manual_seed(0)
    dynamic = timm.create_model(TF_NET, num_classes=1).eval()
    frozen = build_static_padding_backbone(TF_NET, padding_size=64, num_classes=1).eval()
    frozen.load_state_dict(dynamic.state_dict())  # same keys: StaticPadConv2d is an nn.Conv2d
    convs = [m for m in frozen.modules() if isinstance(m, StaticPadConv2d)]
    assert convs and not [m for m in frozen.modules() if type(m).__name__.startswith("Conv2dSame")]
    with torch.no_grad():
        x = torch.randn(2, 3, 64, 64)
        torch.testing.assert_close(frozen(x), dynamic(x))
        y = torch.randn(2, 3, 63, 63)  # odd sizes: every stride-2 layer pads one pixel more dynamically
        assert (frozen(y) - dynamic(y)).abs().max() > 1e-3


def test_unpadded_convolution_and_export_graph() -> None:
    net = build_static_padding_backbone(TF_NET, padding_size=64, unpadded=["conv_stem"], num_classes=1).eval()
    assert net.conv_stem.pad == (0, 0, 0, 0)
    assert net.conv_stem(torch.zeros(1, 3, 64, 64)).shape[-1] == 31  # (64 - 3) // 2 + 1: no padding
    graph = torch.jit.trace(net, torch.zeros(1, 3, 64, 64))  # the paddings are constants, not shape arithmetic
    assert "aten::size" not in str(graph.inlined_graph)


def test_networks_without_same_padding_and_unknown_names_are_one_error() -> None:
    with pytest.raises(ModelConfigError, match="no dynamic 'same' convolution"):
        freeze_same_padding(timm.create_model("test_resnet"), 64)
    with pytest.raises(ModelConfigError, match="model.net.unpadded: stem is not a convolution"):
        build_static_padding_backbone(TF_NET, padding_size=64, unpadded=["stem"])
