"""Published weights in: a released checkpoint converted into a checkpoint in train.py's layout.

``python import_weights.py published=<source> weights=/path/to/released.file`` builds the model the
``conf/published/<source>.yaml`` config names (a preset of ``conf/model/`` with the source's input contract),
maps the file's tensors onto its network (:mod:`dfdet.models.published`), loads them strictly, applies the
model's tuning strategy and writes ``<output>``: a Lightning-style checkpoint with ``state_dict``,
``hyper_parameters`` (the input contract included) and the resolved config, which evaluate, predict, serve and
export read like any trained checkpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import torch
from omegaconf import DictConfig, OmegaConf

from dfdet import __version__
from dfdet.errors import CheckpointError
from dfdet.models.published import read_state
from dfdet.models.tuning import describe
from dfdet.tasks.common import build, log, output_dir


def import_weights(cfg: DictConfig) -> Path:
    """Converts ``cfg.weights`` with ``cfg.published.convert`` into a dfdet checkpoint.

    Returns:
        The written checkpoint (``cfg.output``, or ``<paths.output_dir>/<published.name>.ckpt``).
    """
    converter = build(cfg.published.convert)
    state = read_state(cfg.weights, "weights")
    net_cfg = cfg.model.net.copy()
    net_cfg.pretrained = False  # every tensor comes from the released file
    net = build(net_cfg)
    converted = converter(state, net)
    missing, unexpected = _compare(net.state_dict(), converted)
    if missing or unexpected:
        raise CheckpointError(
            f"{cfg.weights} does not fit published={cfg.published.name}: missing {missing[:3]}, unexpected "
            f"{unexpected[:3]} ({len(missing)} / {len(unexpected)} in all)"
        )
    try:
        net.load_state_dict(converted, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{cfg.weights} does not fit published={cfg.published.name}: {exc}") from None
    model = build(cfg.model, net=net)  # the tuning strategy now adapts the loaded weights
    config: dict[str, Any] = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[assignment]
    model.run_config = config
    out = Path(cfg.output) if cfg.get("output") else output_dir(cfg) / f"{cfg.published.name}.ckpt"
    out.parent.mkdir(parents=True, exist_ok=True)
    checkpoint = {
        "state_dict": model.state_dict(),
        "hyper_parameters": dict(model.hparams),
        "pytorch-lightning_version": L.__version__,
        "epoch": 0,
        "global_step": 0,
        "dfdet": {"version": __version__, "config": config, "imported_from": str(cfg.weights)},
    }
    torch.save(checkpoint, out)
    info = describe(model.net)
    log.info("Imported %s (%s, %d parameters) into %s", cfg.weights, cfg.published.name, info["params/total"], out)
    return out


def _compare(expected: dict[str, torch.Tensor], given: dict[str, torch.Tensor]) -> tuple[list[str], list[str]]:
    return sorted(set(expected) - set(given)), sorted(set(given) - set(expected))
