"""Rebuilding a trained detector from its checkpoint alone (config inside, weights-only loading)."""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any, cast

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from dfdet.errors import CheckpointError, DfdetError, find_user_error
from dfdet.legacy import upgrade_config
from dfdet.models.detector import DeepfakeDetector, TimmNet
from dfdet.utils.safe_config import check_targets


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Loads a checkpoint with ``weights_only=True`` and vets its stored config (every loader reads through here).

    Raises:
        CheckpointError: a missing, corrupt or foreign file.
        UnsafeConfigError: a stored config naming a ``_target_`` off the allow-list (see
            :func:`dfdet.utils.safe_config.check_targets`).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"Checkpoint not found: {path} (pass ckpt_path=<run>/checkpoints/best.ckpt)")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(f"Checkpoint {path} is unreadable or corrupt (not a PyTorch checkpoint)") from exc
    except Exception as exc:  # noqa: BLE001 - torch.load raises many types on garbage; all mean "corrupt"
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"Checkpoint {path} is unreadable or corrupt ({first_line})") from exc
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt or not isinstance(ckpt.get("dfdet"), dict):
        raise CheckpointError(f"{path} is not a checkpoint written by dfdet's train.py (no 'dfdet' config inside)")
    config = ckpt["dfdet"].get("config") or {}
    if not isinstance(config, dict):
        raise CheckpointError(f"{path}: its stored training config is not a mapping")
    # Older layouts are upgraded first (renames within dfdet only, nothing instantiated), so the allow-list holds
    # today's names alone.
    try:
        upgraded = upgrade_config(config)
    except (DfdetError, KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: its stored config is malformed ({type(exc).__name__}: {exc})") from None
    check_targets(upgraded, origin=str(path))
    ckpt["dfdet"]["upgraded_config"] = upgraded
    return ckpt


def stored_config(ckpt: dict[str, Any]) -> dict[str, Any]:
    """The training config stored in a checkpoint read by :func:`read_checkpoint`, in today's form (checkpoints
    written before the input contract are upgraded by :func:`dfdet.legacy.upgrade_config`), as vetted there."""
    return ckpt["dfdet"]["upgraded_config"]


def load_detector(path: str | os.PathLike) -> tuple[DeepfakeDetector, DictConfig]:
    """Rebuilds the model from the training config stored in the checkpoint and loads its weights.

    Returns:
        The model in eval mode (threshold restored) and the training config (in today's form: see
        :func:`stored_config`). The model's input contract is ``model.contract``.
    """
    ckpt = read_checkpoint(path)
    config = stored_config(ckpt)
    cfg = OmegaConf.create(config)
    model_cfg = cfg.model.copy()
    if "pretrained" in model_cfg.net:
        model_cfg.net.pretrained = False  # the checkpoint holds the weights; never reach for the hub
    if "checkpoint_path" in model_cfg.net:
        model_cfg.net.checkpoint_path = None
    try:
        model: DeepfakeDetector = instantiate(model_cfg)
    except Exception as exc:
        raise find_user_error(exc) or CheckpointError(f"Cannot rebuild the model of {path}: {exc}") from exc
    try:
        model.load_state_dict(ckpt["state_dict"])
    except RuntimeError as exc:
        raise CheckpointError(f"Weights in {path} do not match its config: {exc}") from exc
    model.run_config = ckpt["dfdet"].get("config")  # as stored: export hashes it (provenance of older checkpoints)
    return model.eval(), cfg


def init_from_checkpoint(model: DeepfakeDetector, path: str | os.PathLike, freeze_backbone: bool = False) -> None:
    """Fine-tuning start: copies a trained checkpoint's network weights into ``model`` (same architecture).

    Args:
        model: the freshly built model of the new run.
        path: a checkpoint written by train.py.
        freeze_backbone: train only the classifier (``net.get_classifier()``, timm's head).

    Raises:
        CheckpointError: unreadable checkpoint or mismatching architecture.
    """
    ckpt = read_checkpoint(path)
    weights = {k[len("net.") :]: v for k, v in ckpt["state_dict"].items() if k.startswith("net.")}
    try:
        model.net.load_state_dict(weights)
    except RuntimeError as exc:
        raise CheckpointError(f"finetune_from={path}: its network does not match this run's model.net ({exc})") from exc
    if freeze_backbone:
        if not hasattr(model.net, "get_classifier"):
            raise CheckpointError("freeze_backbone needs a network with get_classifier() (timm models have one)")
        head = {id(p) for p in cast(TimmNet, model.net).get_classifier().parameters()}
        for param in model.net.parameters():
            param.requires_grad = id(param) in head
