"""Experiment loggers: wandb that works without an account, and logging configs and plots to any logger."""

from __future__ import annotations

import netrc
import os
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import Logger, WandbLogger


def wandb_configured() -> bool:
    """True when the user has set wandb up (API key in the environment or ~/.netrc, or an explicit WANDB_MODE)."""
    if os.environ.get("WANDB_API_KEY") or os.environ.get("WANDB_MODE"):
        return True
    try:
        return netrc.netrc().authenticators("api.wandb.ai") is not None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        return False


def build_wandb_logger(
    save_dir: str,
    project: str = "dfdet",
    name: str | None = None,
    mode: str = "auto",
    log_model: bool = False,
    **kwargs: Any,
) -> WandbLogger:
    """A Lightning ``WandbLogger``; ``mode="auto"`` is online only when wandb is configured, else offline.

    Args:
        save_dir: where wandb writes its run folder (``<save_dir>/wandb/offline-run-*`` when offline).
        project: wandb project.
        name: run name.
        mode: ``auto``, ``online`` or ``offline``.
        log_model: upload checkpoints as artifacts (``True``: at the end, ``"all"``: every checkpoint).
    """
    offline = mode == "offline" or (mode == "auto" and not wandb_configured())
    Path(save_dir).mkdir(parents=True, exist_ok=True)
    return WandbLogger(save_dir=save_dir, project=project, name=name, offline=offline, log_model=log_model, **kwargs)


def log_run(loggers: list[Logger], config: dict[str, Any], info: dict[str, Any]) -> None:
    """Records the resolved config and provenance (git commit, package versions) with every logger."""
    for logger in loggers:
        logger.log_hyperparams({**config, "run_info": info})


def log_images(loggers: list[Logger], images: dict[str, Path], step: int | None = None) -> None:
    """Sends plot images to the loggers that take images (wandb); the files stay in the run folder for the rest."""
    for logger in loggers:
        if isinstance(logger, WandbLogger):
            for key, path in images.items():
                logger.log_image(key=key, images=[str(path)], step=step)
