"""Grad-CAM (Selvaraju et al. 2017) on the last convolutional feature map of a timm backbone.

The map is the one ``net.forward_features`` returns; the fake logit is ``net.forward_head`` of it (frame models) or
a temporal head over the pooled features of a clip's frames (clip models). Heatmaps show where the evidence for
"fake" lies: ``ReLU(sum_c w_c A_c)`` with ``w_c`` the spatial mean of d logit / d A_c.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn


class GradCamUnavailable(ValueError):
    """The network has no spatial feature map to explain (``forward_features`` does not return (N, C, h, w))."""


def _normalise(cam: torch.Tensor) -> torch.Tensor:
    """Scales each map (N, H, W) to [0, 1] by its maximum; an all-zero map stays zero."""
    peak = cam.flatten(1).amax(dim=1).clamp_min(1e-12)
    return cam / peak[:, None, None]


def grad_cam(net: nn.Module, x: torch.Tensor, head: nn.Module | None = None) -> torch.Tensor:
    """Grad-CAM heatmaps of the fake logit.

    Args:
        net: a timm network with ``forward_features`` (returning (N, C, h, w)) and ``forward_head``, in eval mode.
        x: normalised inputs: images (N, 3, H, W), or clips (N, T, 3, H, W) when ``head`` is given.
        head: temporal head mapping pooled frame features (N, T, D) to clip logits (N, 1) or (N,); None for frame
            models.

    Returns:
        Heatmaps in [0, 1], (N, H, W) for images or (N, T, H, W) for clips (each frame's map w.r.t. its clip's logit),
        each scaled by its own maximum.

    Raises:
        GradCamUnavailable: ``net`` has no ``forward_features`` or it does not return a spatial map.
    """
    if not hasattr(net, "forward_features") or not hasattr(net, "forward_head"):
        raise GradCamUnavailable(f"{type(net).__name__} has no forward_features/forward_head")
    forward_features: Callable[..., torch.Tensor] = net.forward_features  # type: ignore[assignment]
    forward_head: Callable[..., torch.Tensor] = net.forward_head  # type: ignore[assignment]
    lead = x.shape[:-3]
    frames = x.detach().reshape(-1, *x.shape[-3:])
    with torch.enable_grad():
        feats = forward_features(frames)
        if feats.ndim != 4:
            raise GradCamUnavailable(f"forward_features returns shape {tuple(feats.shape)}, not (N, C, h, w)")
        if head is None:
            logits = forward_head(feats).reshape(-1)
        else:
            pooled = forward_head(feats, pre_logits=True)
            logits = head(pooled.reshape(*lead, pooled.shape[-1])).reshape(-1)
        (grads,) = torch.autograd.grad(logits.sum(), feats)  # samples are independent (eval mode): one backward
    weights = grads.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * feats.detach()).sum(dim=1, keepdim=True))
    cam = F.interpolate(cam, size=tuple(x.shape[-2:]), mode="bilinear", align_corners=False)[:, 0]
    return _normalise(cam).reshape(*lead, *x.shape[-2:])
