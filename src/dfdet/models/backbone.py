"""Backbone factory over timm: any timm model by name with one logit output, pretrained weights found offline.

Pretrained weights are looked up, in order, in ``checkpoint_path`` (a local file), the Hugging Face hub cache and
torch hub's checkpoint folder; a download is attempted only when the hub answers. Anything else raises one
:class:`~dfdet.errors.ModelConfigError` that says where to put the file.
"""

from __future__ import annotations

import difflib
import os
import socket
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlparse

import timm
import torch
from torch import nn

from dfdet.errors import ModelConfigError


def _check_name(name: str) -> None:
    if timm.is_model(name):
        return
    close = difflib.get_close_matches(name.split(".")[0], timm.list_models(), n=5, cutoff=0.6)
    hint = f" Did you mean: {', '.join(close)}?" if close else " See timm.list_models() for the names."
    raise ModelConfigError(f"Unknown timm model '{name}' (model.net.name).{hint}")


def cached_weights(name: str) -> str | None:
    """Path of ``name``'s pretrained weights in the local hub caches, or None."""
    cfg = timm.models.get_pretrained_cfg(name)
    if cfg is None:
        return None
    if cfg.hf_hub_id:
        from huggingface_hub import try_to_load_from_cache

        for fname in filter(None, (cfg.hf_hub_filename, "model.safetensors", "pytorch_model.bin")):
            hit = try_to_load_from_cache(cfg.hf_hub_id, fname)
            if isinstance(hit, str):
                return hit
    # timm's PretrainedCfg.url may also be a (url, filename) pair; no registered model uses one.
    if cfg.url:
        path = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(cast(str, cfg.url)).path)
        if path.is_file():
            return str(path)
    return None


def _hub_reachable(name: str, timeout: float = 3.0) -> bool:
    cfg = timm.models.get_pretrained_cfg(name)
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false") or cfg is None:
        return False
    url = os.environ.get("HF_ENDPOINT", "https://huggingface.co") if cfg.hf_hub_id else (cfg.url or "")
    host = urlparse(cast(str, url)).hostname  # a plain URL string (see cached_weights)
    if not host:
        return False
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def _weights_error(name: str, detail: str) -> ModelConfigError:
    cfg = timm.models.get_pretrained_cfg(name)
    where = (
        f"the Hugging Face hub cache (HF_HOME, e.g. `huggingface-cli download {cfg.hf_hub_id}` on a machine with "
        "internet, then copy the cache)"
        if cfg is not None and cfg.hf_hub_id
        else f"{Path(torch.hub.get_dir()) / 'checkpoints'} (from {cfg.url if cfg else 'the timm release page'})"
    )
    return ModelConfigError(
        f"Pretrained weights for '{name}' are not reachable ({detail}). Put them in {where}, or pass a local file "
        f"with model.net.checkpoint_path=/path/to/weights.safetensors|.pth, or train from scratch with "
        f"model.net.pretrained=false."
    )


def build_backbone(
    name: str,
    pretrained: bool = False,
    checkpoint_path: str | None = None,
    num_classes: int = 1,
    in_chans: int = 3,
    drop_rate: float = 0.0,
    feature: str | None = None,
    **kwargs: object,
) -> nn.Module:
    """Creates timm model ``name`` with a ``num_classes``-logit head (1 = binary fake logit).

    Args:
        name: any timm model name, optionally with a pretrained tag (``efficientnet_b4.ra2_in1k``).
        pretrained: load ImageNet (or the tag's) weights; the classifier is re-initialised.
        checkpoint_path: local weights file used instead of the hub (implies ``pretrained``).
        num_classes: output logits.
        in_chans: input channels (1 for spectrograms).
        drop_rate: dropout before the classifier.
        feature: what the classifier reads (see :func:`feature_settings`): ``cls``, ``pooled``, ``penultimate``,
            ``layer:<k>``; None: the model's own pooling.
        **kwargs: passed to ``timm.create_model``.

    Returns:
        The network; ``forward`` maps (B, in_chans, H, W) to (B, num_classes) logits.
    """
    _check_name(name)
    pool, layer = feature_settings(feature)
    common: dict[str, Any] = dict(num_classes=num_classes, in_chans=in_chans, drop_rate=drop_rate, **kwargs)
    if pool is not None:
        common["global_pool"] = pool
    net = _create(name, pretrained, checkpoint_path, common)
    if layer is not None:
        _keep_blocks_up_to(net, layer, feature or "")
    return net


FEATURES = ("cls", "pooled", "penultimate", "layer:<k>")


def feature_settings(feature: str | None) -> tuple[str | None, int | None]:
    """timm's ``global_pool`` and the last transformer block kept, for ``model.net.feature``.

    - ``cls``: the class token of the last block (``global_pool='token'``; ViTs);
    - ``pooled``: the mean of the tokens / spatial positions (``global_pool='avg'``);
    - ``penultimate``: the model's own pooling on the output of the second-to-last block (``layer:-2``);
    - ``layer:<k>``: the same on the output of block k (0-based; negative counts from the end); the later blocks
      are removed, and the final norm is kept. Transformers with ``blocks`` (ViT, EVA/PE) only.
    """
    if feature is None:
        return None, None
    if feature == "cls":
        return "token", None
    if feature == "pooled":
        return "avg", None
    if feature == "penultimate":
        return None, -2
    if feature.startswith("layer:"):
        try:
            return None, int(feature.split(":", 1)[1])
        except ValueError:
            pass
    raise ModelConfigError(f"model.net.feature={feature} is not one of: {', '.join(FEATURES)}, null")


def _keep_blocks_up_to(net: nn.Module, layer: int, feature: str) -> None:
    blocks = getattr(net, "blocks", None)
    if not isinstance(blocks, nn.Sequential | nn.ModuleList) or not hasattr(net, "prune_intermediate_layers"):
        raise ModelConfigError(
            f"model.net.feature={feature} needs a transformer with blocks (ViT, EVA); "
            f"{type(net).__name__} has none: use cls, pooled or null"
        )
    if not -len(blocks) <= layer < len(blocks):
        raise ModelConfigError(f"model.net.feature={feature}: the network has {len(blocks)} blocks")
    cast(Any, net).prune_intermediate_layers(indices=[layer % len(blocks)], prune_norm=False, prune_head=False)


def _create(name: str, pretrained: bool, checkpoint_path: str | None, common: dict[str, Any]) -> nn.Module:
    if checkpoint_path is not None:
        if not Path(checkpoint_path).is_file():
            raise ModelConfigError(f"model.net.checkpoint_path={checkpoint_path} does not exist")
        return timm.create_model(name, pretrained=True, pretrained_cfg_overlay={"file": str(checkpoint_path)}, **common)
    if not pretrained:
        return timm.create_model(name, pretrained=False, **common)
    cached = cached_weights(name)
    if cached is not None:
        return timm.create_model(name, pretrained=True, pretrained_cfg_overlay={"file": cached}, **common)
    if timm.models.get_pretrained_cfg(name) is None:
        raise _weights_error(name, "timm has no pretrained weights for this name")
    if not _hub_reachable(name):
        raise _weights_error(name, "not in the local caches and the hub cannot be reached")
    try:
        return timm.create_model(name, pretrained=True, **common)
    except (OSError, RuntimeError) as exc:
        raise _weights_error(name, f"{type(exc).__name__}: {exc}") from exc
