"""TF "same" padding fixed for one input size, as ``efficientnet_pytorch`` pads: networks that run at another size.

TensorFlow's "same" padding of a strided convolution depends on the input size: ``pad = max((ceil(i / s) - 1) * s +
(k - 1) * d + 1 - i, 0)``, split floor / ceil between the two sides. timm's ``tf_*`` models (``Conv2dSame``) compute
it from each input; ``efficientnet_pytorch``'s ``Conv2dStaticSamePadding`` computes it once, for the sizes a
``image_size``-pixel input reaches each layer at, and keeps it at any input size. Both agree at ``image_size``; at
another size a stride-2 convolution can pad by one pixel less or more (it depends on the parity of its input), so
the two networks compute different functions. DeepfakeBench's EfficientNet-B4 (``efficientnet-b4``, image_size 380,
run at 256 px, its stem replaced by an unpadded ``nn.Conv2d``) is such a network: :func:`build_static_padding_backbone`
builds it from timm's ``tf_efficientnet_b4`` with its paddings frozen for 380 px and ``unpadded: [conv_stem]``.

Stride-1 "same" convolutions with odd kernels pad (k - 1) / 2 on each side at any size in both libraries and are left
alone (timm builds them as plain ``nn.Conv2d``). Same-padded pooling layers (timm's ``MaxPool2dSame``) are not
converted: :func:`freeze_same_padding` names them in its error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import torch
import torch.nn.functional as F
from timm.layers import get_same_padding
from timm.layers.conv2d_same import Conv2dSame, Conv2dSameExport
from timm.layers.pool2d_same import AvgPool2dSame, MaxPool2dSame
from torch import nn
from torch.func import functional_call

from dfdet.errors import ModelConfigError
from dfdet.models.backbone import build_backbone

Pad = tuple[int, int, int, int]


class StaticPadConv2d(nn.Conv2d):
    """A convolution after a fixed zero padding ``pad = (left, right, top, bottom)`` (``Conv2dStaticSamePadding``).

    Its tensors are the ``weight`` / ``bias`` of a plain ``nn.Conv2d``, so state dicts keep their keys; the padding is
    a constant, so the exported ONNX graph holds a fixed ``Pad``.
    """

    def __init__(self, conv: nn.Conv2d, pad: Pad) -> None:
        super().__init__(
            conv.in_channels,
            conv.out_channels,
            conv.kernel_size,  # type: ignore[arg-type]
            conv.stride,  # type: ignore[arg-type]
            0,
            conv.dilation,  # type: ignore[arg-type]
            conv.groups,
            conv.bias is not None,
            device=conv.weight.device,
            dtype=conv.weight.dtype,
        )
        self.pad = tuple(int(p) for p in pad)
        self.weight = conv.weight
        self.bias = conv.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, H, W) -> (B, C', H', W')
        return super().forward(F.pad(x, self.pad) if any(self.pad) else x)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, pad={self.pad}"


def same_pad(size: tuple[int, int], conv: nn.Conv2d) -> Pad:
    """TF "same" padding (left, right, top, bottom) of ``conv`` for an input of ``size`` = (H, W)."""
    (kh, kw), (sh, sw), (dh, dw) = conv.kernel_size, conv.stride, conv.dilation
    pad_h, pad_w = get_same_padding(size[0], kh, sh, dh), get_same_padding(size[1], kw, sw, dw)
    return pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2


def freeze_same_padding(net: nn.Module, image_size: int, unpadded: Sequence[str] = (), in_chans: int = 3) -> nn.Module:
    """Replaces each dynamic "same" convolution of ``net`` by a :class:`StaticPadConv2d` padded as it is for an
    ``image_size`` x ``image_size`` input (the size each layer sees is recorded on one forward pass of meta tensors:
    shapes, no arithmetic); the convolutions named in ``unpadded`` get no padding at all. ``net`` is changed in place
    and returned.

    Raises:
        ModelConfigError: ``net`` has no dynamic "same" convolution, has same-padded pooling, or a name in
            ``unpadded`` is not one of its convolutions.
    """
    modules = dict(net.named_modules())
    pools = [name for name, m in modules.items() if isinstance(m, MaxPool2dSame | AvgPool2dSame)]
    same = {name: m for name, m in modules.items() if isinstance(m, Conv2dSame | Conv2dSameExport)}
    if not same or pools:
        raise ModelConfigError(
            f"model.net.padding_size: {type(net).__name__} has no dynamic 'same' convolution (timm's tf_* models have)"
            if not same
            else f"model.net.padding_size: same-padded pooling ({', '.join(pools[:3])}) is not converted"
        )
    for name in unpadded:
        if not isinstance(modules.get(name), nn.Conv2d):
            raise ModelConfigError(f"model.net.unpadded: {name} is not a convolution of {type(net).__name__}")
    sizes: dict[nn.Module, tuple[int, int]] = {}

    def record(module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
        sizes.setdefault(module, (args[0].shape[-2], args[0].shape[-1]))

    hooks = [m.register_forward_pre_hook(record) for m in same.values()]
    # Shapes only: the forward runs on meta tensors (no arithmetic), the network's own tensors untouched.
    meta = {k: v.to("meta") for k, v in (*net.named_parameters(), *net.named_buffers())}
    training = net.training
    try:
        functional_call(net.eval(), meta, (torch.zeros(1, in_chans, image_size, image_size, device="meta"),))
    finally:
        net.train(training)
        for hook in hooks:
            hook.remove()
    for name in dict.fromkeys([*same, *unpadded]):
        conv = cast(nn.Conv2d, modules[name])
        pad = (0, 0, 0, 0) if name in unpadded else same_pad(sizes[conv], conv)
        net.set_submodule(name, StaticPadConv2d(conv, pad))
    return net


def build_static_padding_backbone(
    name: str, padding_size: int, unpadded: Sequence[str] = (), in_chans: int = 3, **kwargs: object
) -> nn.Module:
    """:func:`~dfdet.models.backbone.build_backbone` with its "same" padding frozen at ``padding_size`` px
    (:func:`freeze_same_padding`): ``efficientnet_pytorch``'s networks, which pad for their ``image_size``.

    Args:
        name: a timm model with TF "same" padding (``tf_efficientnet_b4``).
        padding_size: the input side the paddings are computed for (efficientnet_pytorch's ``image_size``: 380 for
            B4).
        unpadded: convolutions that pad nothing (DeepfakeBench's ``nn.Conv2d`` stem: ``[conv_stem]``).
        in_chans: input channels.
        **kwargs: :func:`~dfdet.models.backbone.build_backbone`'s other arguments.
    """
    net = build_backbone(name, in_chans=in_chans, **kwargs)  # type: ignore[arg-type]
    return freeze_same_padding(net, padding_size, list(unpadded), in_chans)
