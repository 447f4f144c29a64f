"""What every task shares: building config lists, the output folder, and turning user errors into one line."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from dfdet.contract import InputContract
from dfdet.errors import find_user_error

log = logging.getLogger("dfdet")
T = TypeVar("T")


def build(cfg: DictConfig, **kwargs: Any) -> Any:
    """``hydra.utils.instantiate``, re-raising a user error (:class:`DfdetError`) unwrapped from Hydra's wrapper."""
    try:
        return instantiate(cfg, **kwargs)
    except Exception as exc:
        user_error = find_user_error(exc)
        if user_error is None or user_error is exc:
            raise
        raise user_error from None


def check_modality(contract: InputContract | DictConfig, data_cfg: DictConfig) -> InputContract:
    """Refuses, with one line, data of another modality than the model's input contract (before anything is built).

    Args:
        contract: the model's contract, or the ``model`` config holding it (``model.input``).
        data_cfg: the ``data`` config; its ``modality`` (``face`` when absent).
    """
    if not isinstance(contract, InputContract):
        contract = InputContract.from_dict(OmegaConf.to_container(contract.input, resolve=True))  # type: ignore[arg-type]
    source = str(OmegaConf.select(data_cfg, "source._target_", default="") or "").rsplit(".", 1)[-1]
    contract.require(str(data_cfg.get("modality") or "face"), f"the data ({source or 'data=...'})")
    return contract


def instantiate_dict(cfg: DictConfig | None) -> list[Any]:
    """Instantiates every entry of a mapping of configs that has a ``_target_`` (callbacks, loggers)."""
    if not cfg:
        return []
    return [build(c) for c in cfg.values() if isinstance(c, DictConfig) and "_target_" in c]


def output_dir(cfg: DictConfig) -> Path:
    """The run folder (``paths.output_dir``), created if needed."""
    path = Path(cfg.paths.output_dir)
    path.mkdir(parents=True, exist_ok=True)
    return path


def save_resolved_config(cfg: DictConfig, path: Path) -> None:
    """Writes the fully resolved config next to Hydra's own (unresolved) copy."""
    path.write_text(OmegaConf.to_yaml(cfg, resolve=True))


def run_entry(task: Callable[[DictConfig], T], cfg: DictConfig) -> T:
    """Runs ``task``; a user error (bad data, weights, checkpoint) prints one clear line and exits with code 2."""
    try:
        return task(cfg)
    except Exception as exc:
        user_error = find_user_error(exc)
        if user_error is None:
            raise
        print(f"error: {user_error}", file=sys.stderr)
        sys.exit(2)
