"""The perturbation sweep of ``evaluate.py`` (``perturb=default``, ``perturb.settings=[GB,JPEG]``): builds the
settings for the model's modality, runs them on the evaluated split, writes the table, curves and metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from dfdet.errors import DfdetError
from dfdet.perturb.registry import build_settings
from dfdet.perturb.report import write_sweep
from dfdet.perturb.sweep import run_sweep


class PerturbConfigError(DfdetError):
    """A perturbation sweep option that does not fit the data or the model."""


def sweep_requested(cfg: DictConfig) -> bool:
    """Whether ``cfg.perturb`` asks for a sweep (``perturb=none`` leaves ``settings: []``)."""
    node = cfg.get("perturb")
    return node is not None and (node.get("settings") is None or len(node.get("settings")) > 0)


def evaluate_robustness(cfg: DictConfig, model: Any, datamodule: Any, out: Path, title: str) -> dict[str, Any]:
    """Runs the sweep of ``cfg.perturb`` on ``cfg.split`` and writes its outputs into ``out``.

    Returns:
        The ``robustness`` entry of ``metrics.json`` (:func:`~dfdet.perturb.report.sweep_summary`).

    Raises:
        PerturbConfigError: an unknown distortion, one of another modality, or audio-visual data.
    """
    node = cfg.perturb
    contract = model.contract
    if contract.modality == "audio_visual":
        raise PerturbConfigError("perturbation sweeps cover face, image and audio models; score the face and the "
                                 "audio model of an audio-visual pair separately")  # fmt: skip
    names = node.get("settings")
    levels = OmegaConf.to_container(node.levels, resolve=True) if node.get("levels") else None
    try:
        settings = build_settings(contract.modality, None if names is None else list(names), levels)  # type: ignore[arg-type]
    except ValueError as exc:
        raise PerturbConfigError(f"perturb.settings: {exc}") from exc
    dataset = datamodule.datasets[cfg.split]
    missing = [m for m in ("raw", "raw_key", "from_raw") if not hasattr(dataset, m)]
    if missing:
        raise PerturbConfigError(f"the {type(dataset).__name__} items of this data cannot be distorted")
    metric = model.stage_metrics("test")
    result = run_sweep(
        model,
        dataset,
        settings,
        seed=int(node.seed),
        threshold=float(model.threshold),
        aggregation=metric.aggregation,
        top_k=metric.top_k,
        batch_size=int(node.get("batch_size") or datamodule.batch_size),
        workers=int(node.workers),
        cache_mb=float(node.cache_mb),
        bootstrap=int(node.bootstrap),
        sample_rate=contract.sample_rate,
    )
    summary = write_sweep(result, out, title)
    summary["seed"] = int(node.seed)
    return summary
