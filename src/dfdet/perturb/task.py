"""The perturbation sweep of ``evaluate.py`` (``perturb=default``, ``perturb.settings=[GB,JPEG]``): builds the
settings for the model's modality, runs them on the evaluated split, writes the table, curves and metrics."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from dfdet.errors import DfdetError
from dfdet.perturb.registry import Setting, build_settings, video_settings
from dfdet.perturb.report import save_curve, write_sweep
from dfdet.perturb.sweep import run_sweep


class PerturbConfigError(DfdetError):
    """A perturbation sweep option that does not fit the data or the model."""


def sweep_requested(cfg: DictConfig) -> bool:
    """Whether ``cfg.perturb`` asks for a sweep (``perturb=none`` leaves ``settings: []``)."""
    node = cfg.get("perturb")
    if node is None:
        return False
    return node.get("mode") == "faithful" or node.get("settings") is None or len(node.get("settings")) > 0


def plan(cfg: DictConfig, modality: str) -> list[Setting]:
    """The settings ``cfg.perturb`` asks for on data of ``modality`` (the faithful mode's H.264 ones are added by
    :func:`evaluate_robustness`); checked before anything is scored.

    Raises:
        PerturbConfigError: an unknown distortion or mode, one of another modality, or audio-visual data.
    """
    node = cfg.perturb
    if modality == "audio_visual":
        raise PerturbConfigError("perturbation sweeps cover face, image and audio models; score the face and the "
                                 "audio model of an audio-visual pair separately")  # fmt: skip
    mode = str(node.get("mode") or "fast")
    if mode not in ("fast", "faithful"):
        raise PerturbConfigError(f"perturb.mode={mode}: choose fast (stored crops) or faithful (source videos)")
    if mode == "faithful" and modality != "face":
        raise PerturbConfigError("perturb.mode=faithful re-encodes the source videos of face data")
    names = node.get("settings")
    levels = OmegaConf.to_container(node.levels, resolve=True) if node.get("levels") else None
    try:
        return build_settings(modality, None if names is None else list(names), levels)  # type: ignore[arg-type]
    except ValueError as exc:
        raise PerturbConfigError(f"perturb.settings: {exc}") from exc


def evaluate_robustness(cfg: DictConfig, model: Any, datamodule: Any, out: Path, title: str) -> dict[str, Any]:
    """Runs the sweep of ``cfg.perturb`` on ``cfg.split`` and writes its outputs into ``out``.

    Returns:
        The ``robustness`` entry of ``metrics.json`` (:func:`~dfdet.perturb.report.sweep_summary`).

    Raises:
        PerturbConfigError: an unknown distortion, one of another modality, or audio-visual data.
    """
    node = cfg.perturb
    contract = model.contract
    settings = plan(cfg, contract.modality)
    prepared = None
    if node.get("mode") == "faithful":
        from dfdet.perturb.faithful import faithful_media

        crfs = [float(c) for c in node.get("crf") or []] or None
        video = video_settings(crfs)
        media = faithful_media(datamodule, cfg.split, [s.param for s in video], bool(node.get("redetect", True)))
        prepared = {s: media[s.param] for s in video}
        settings = [*video, *settings]
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
        prepared=prepared,  # type: ignore[arg-type]
        engine=str(node.get("engine") or "auto"),
        on_distortion=functools.partial(save_curve, folder=out / "robustness", title=title),
    )
    summary = write_sweep(result, out, title, curves=False)
    summary["seed"] = int(node.seed)
    return summary
