"""NPR (Tan et al., "Rethinking the Up-Sampling Operations in CNN-based Generative Network for Generalizable
Deepfake Detection", CVPR 2024): neighbouring-pixel relationships of up-sampling, classified by a truncated ResNet-50.

Generators up-sample with nearest or transposed convolutions, which ties each pixel to its neighbours in a 2 x 2
cell. NPR exposes that relation as the residual of the image against its own nearest-neighbour down-up-sampled copy,
``x - up2(down2(x))``, and feeds it (scaled by 2/3, as the reference code) to the stem and first two stages of a
ResNet-50 (3 x 3 stride-2 stem, max-pool, 3 + 4 bottleneck blocks), average pooling and one logit.

Written from the paper and its reference implementation's architecture (github.com/chuangchuangtan/
NPR-DeepfakeDetection, ``networks/resnet.py``); nearest down-sampling by 0.5 is taking every second pixel and
nearest up-sampling by 2 repeats each pixel, which is what PyTorch's ``interpolate(mode="nearest")`` does for these
factors (tested), written this way so that the graph exports to ONNX as plain slicing. Not verified: accuracy
against the published numbers (no GenImage / ForenSynths data or released weights here).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from timm.models.resnet import Bottleneck
from torch import nn


def npr_residual(x: torch.Tensor) -> torch.Tensor:
    """``x - up2(down2(x))`` with nearest-neighbour sampling, on (B, C, H, W) with H and W cropped to even."""
    h, w = x.shape[-2] - x.shape[-2] % 2, x.shape[-1] - x.shape[-1] % 2
    x = x[..., :h, :w]
    coarse = x[..., ::2, ::2].repeat_interleave(2, dim=-2).repeat_interleave(2, dim=-1)
    return x - coarse


def _stage(inplanes: int, planes: int, blocks: int, stride: int) -> nn.Sequential:
    downsample = None
    if stride != 1 or inplanes != planes * Bottleneck.expansion:
        downsample = nn.Sequential(
            nn.Conv2d(inplanes, planes * Bottleneck.expansion, 1, stride=stride, bias=False),
            nn.BatchNorm2d(planes * Bottleneck.expansion),
        )
    layers = [Bottleneck(inplanes, planes, stride=stride, downsample=downsample)]
    layers += [Bottleneck(planes * Bottleneck.expansion, planes) for _ in range(1, blocks)]
    return nn.Sequential(*layers)


class NPRNet(nn.Module):
    """The NPR detector: (B, 3, H, W) normalised images to (B, 1) fake logits.

    Args:
        blocks: bottleneck blocks of the two stages (ResNet-50's first two: 3, 4).
        width: channels of the stem (64 in ResNet-50; smaller for tests).
    """

    def __init__(self, blocks: Sequence[int] = (3, 4), width: int = 64) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, width, kernel_size=3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
        )
        self.layer1 = _stage(width, width, int(blocks[0]), stride=1)
        self.layer2 = _stage(width * Bottleneck.expansion, width * 2, int(blocks[1]), stride=2)
        self.num_features = width * 2 * Bottleneck.expansion
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(self.num_features, 1)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = self.layer2(self.layer1(self.stem(npr_residual(x) * (2.0 / 3.0))))
        return self.fc(self.pool(feats).flatten(1))
