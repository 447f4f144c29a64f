"""Rebuilding a trained detector from its checkpoint alone (config inside, weights-only loading)."""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from dfdet.errors import CheckpointError, find_user_error
from dfdet.models.detector import DeepfakeDetector


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Loads a checkpoint with ``weights_only=True``; raises :class:`CheckpointError` for missing/corrupt files."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"Checkpoint not found: {path} (pass ckpt_path=<run>/checkpoints/best.ckpt)")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError) as exc:
        raise CheckpointError(f"Checkpoint {path} is unreadable or corrupt ({type(exc).__name__}: {exc})") from exc
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt or "dfdet" not in ckpt:
        raise CheckpointError(f"{path} is not a checkpoint written by dfdet's train.py (no 'dfdet' config inside)")
    return ckpt


def load_detector(path: str | os.PathLike) -> tuple[DeepfakeDetector, DictConfig]:
    """Rebuilds the model from the training config stored in the checkpoint and loads its weights.

    Returns:
        The model in eval mode (threshold restored) and the training config.
    """
    ckpt = read_checkpoint(path)
    cfg = OmegaConf.create(ckpt["dfdet"]["config"])
    model_cfg = cfg.model.copy()
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
    model.run_config = ckpt["dfdet"]["config"]
    return model.eval(), cfg
