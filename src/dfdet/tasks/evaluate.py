"""Evaluation: score a checkpoint on a dataset split; write metrics, per-frame predictions and plots."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
from omegaconf import DictConfig, OmegaConf, open_dict

from dfdet.data.datamodule import DeepfakeDataModule
from dfdet.errors import CheckpointError, DatasetNotFoundError, DfdetError
from dfdet.metrics.bootstrap import small_test_set
from dfdet.metrics.fusion import fusion_metrics, fusion_table, save_fusion_roc, weight_sweep
from dfdet.metrics.report import predictions_table, video_table
from dfdet.metrics.uncertainty import flat, save_reliability, video_uncertainty
from dfdet.models import DeepfakeDetector, load_detector
from dfdet.models.scoring import score_sound_tracks
from dfdet.tasks.checks import check_documented_keys
from dfdet.tasks.common import build, check_modality, log, output_dir, save_resolved_config
from dfdet.tasks.localisation import localisation_report
from dfdet.tasks.spoofing import spoofing_metrics
from dfdet.utils.runinfo import run_info, to_float_dict, write_json
from dfdet.utils.table import print_metrics


def _configure(model: DeepfakeDetector, cfg: DictConfig) -> None:
    """Applies the evaluation-time overrides (threshold, video aggregation) to a loaded model."""
    if cfg.get("threshold") is not None:
        model.fixed_threshold = float(cfg.threshold)
        model.threshold.fill_(float(cfg.threshold))
    for stage in model.eval_metrics:
        metric = model.stage_metrics(stage)
        if cfg.get("video_aggregation"):
            metric.aggregation = str(cfg.video_aggregation)
        if cfg.get("top_k"):
            metric.top_k = int(cfg.top_k)


def _data_config(cfg: DictConfig, train_cfg: DictConfig) -> DictConfig:
    """The datamodule config: ``data=`` when given (cross-dataset), else the checkpoint's own; ``${model.*}`` keys
    (the input contract: size, normalisation, clip length, sample rate) resolve against the checkpoint's model."""
    with open_dict(cfg):
        cfg.model = train_cfg.model
        if "_target_" not in cfg.get("data", {}):
            trim = OmegaConf.select(cfg, "data.trim_silence")  # +data.trim_silence=true on the checkpoint's data
            cfg.data = train_cfg.data
            if trim is not None:
                cfg.data.trim_silence = bool(trim)
        cfg.data.train_transform = None  # evaluation never augments
        cfg.data.synthesis = None  # evaluation scores the dataset's own frames
    return cfg.data


@dataclass(frozen=True)
class AudioModel:
    """The audio side of an audio-visual evaluation: the detector, its window length and rate, from its checkpoint."""

    model: DeepfakeDetector
    num_samples: int
    sample_rate: int


def _load_audio_detector(path: str) -> AudioModel:
    """Loads ``audio_ckpt_path``; refuses a model of another modality."""
    model, _ = load_detector(path)
    contract = model.contract
    if contract.modality != "audio" or contract.num_samples is None or contract.sample_rate is None:
        raise CheckpointError(
            f"audio_ckpt_path={path} is a {contract.modality} model; pass a checkpoint trained on audio "
            "(train.py data=asvspoof2019_la|audio_folder|synthetic_audio)"
        )
    return AudioModel(model, contract.num_samples, contract.sample_rate)


def _source_videos(cfg: DictConfig, datamodule: DeepfakeDataModule) -> dict[str, Path]:
    """The source video of each video of the evaluated split, checked before any scoring.

    Raises:
        ManifestError: the data has no source videos (e.g. ``data=synthetic``).
        DatasetNotFoundError: none of the source videos is where the release folder says.
    """
    sources = datamodule.video_files(cfg.split)
    files = list(sources.values())
    missing = [f for f in files if not f.is_file()]
    if missing and len(missing) == len(files):
        root = OmegaConf.select(cfg, "data.root")
        raise DatasetNotFoundError(
            f"None of the {len(files)} source videos of the {cfg.split} split is on disk (e.g. {missing[0]}): the "
            f"sound tracks are read from the release folder that preprocess.py read; set data.root (now {root})"
        )
    if missing:
        log.warning("%d of %d source videos are missing (e.g. %s); they keep their face score", len(missing),
                    len(files), missing[0])  # fmt: skip
    return sources


def _audio_visual(
    cfg: DictConfig, model: DeepfakeDetector, audio: AudioModel, sources: dict[str, Path], out: Path, names: list[str]
) -> dict[str, float]:
    """Scores the sound track of every evaluated video and fuses it with the face model's video score.

    Writes ``av_predictions.csv`` (one row per video), ``av_fusion_weights.csv`` (fused AUC/AP/EER per audio weight)
    and ``av_roc.png``; returns ``<split>/audio_*`` and ``<split>/av_*`` metrics (see
    :func:`dfdet.metrics.fusion.fusion_metrics`).
    """
    metric = model.stage_metrics("test")
    videos = video_table(predictions_table(model.predictions["test"], names), metric.aggregation, metric.top_k)
    files = [sources[name] for name in videos["video"]]
    log.info("Scoring the sound track of %d videos with %s", len(files), cfg.audio_ckpt_path)
    audio_model = audio.model.to(model.device)  # where the trainer put the face model
    tracks = score_sound_tracks(audio_model, files, audio.num_samples, audio.sample_rate)
    weight = float(cfg.fusion.audio_weight)
    table = fusion_table(videos, tracks, weight)
    table.to_csv(out / "av_predictions.csv", index=False)
    weight_sweep(table).to_csv(out / "av_fusion_weights.csv", index=False)
    save_fusion_roc(table, out / "av_roc.png", title=cfg.split)
    metrics = fusion_metrics(table, float(model.threshold), float(audio_model.threshold), weight)
    if metrics["videos_with_audio"] == 0:
        log.warning("None of the %d videos has a usable sound track: the fused score is the face score", len(table))
    return {f"{cfg.split}/{k}": v for k, v in metrics.items()}


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Evaluates ``cfg.ckpt_path`` on ``cfg.split`` of the configured data.

    Returns:
        Flat metrics keyed ``<split>/<metric>`` (frame level) and ``<split>/video_<metric>``, at the threshold
        chosen on validation (``<split>/threshold``) plus thresholded ones at 0.5 (``<split>/acc@0.5``, ...). Also
        written to ``metrics.json`` beside ``predictions.csv``, ``roc.png`` and ``score_hist.png``.
    """
    if OmegaConf.is_missing(cfg, "ckpt_path") or not cfg.ckpt_path:
        raise CheckpointError("ckpt_path is required: python evaluate.py ckpt_path=<run>/checkpoints/best.ckpt")
    if cfg.split not in ("val", "test"):
        raise CheckpointError(f"split must be 'val' or 'test', got '{cfg.split}'")
    check_documented_keys(cfg)
    out = output_dir(cfg)
    model, train_cfg = load_detector(cfg.ckpt_path)
    audio = _load_audio_detector(cfg.audio_ckpt_path) if cfg.get("audio_ckpt_path") else None
    if audio is not None and not 0.0 <= float(cfg.fusion.audio_weight) <= 1.0:
        raise DfdetError(f"fusion.audio_weight={cfg.fusion.audio_weight} must be in [0, 1] (0: the face score alone)")
    if audio is not None and model.contract.modality == "audio":
        raise CheckpointError(f"ckpt_path={cfg.ckpt_path} is an audio model; with audio_ckpt_path it must score faces")
    _configure(model, cfg)
    data_cfg = _data_config(cfg, train_cfg)
    check_modality(model.contract, data_cfg)
    _check_perturb(cfg, model.contract.modality)
    datamodule = build(data_cfg)
    datamodule.check()
    save_resolved_config(cfg, out / "config_resolved.yaml")
    datamodule.prepare_data()
    datamodule.setup("test")
    if cfg.get("breakdown"):
        from dfdet.metrics.breakdown import check_columns

        check_columns(datamodule.manifest, list(cfg.breakdown))  # before scoring
    sources = _source_videos(cfg, datamodule) if audio is not None else {}
    loader = datamodule.val_dataloader() if cfg.split == "val" else datamodule.test_dataloader()
    model.set_methods(datamodule.methods())  # <split>/eer_<attack> for each attack or manipulation method
    model.set_subsets(datamodule.subsets())  # <split>/acc_<generator>, ... when the data names subsets
    trainer: L.Trainer = build(cfg.trainer, logger=False, enable_checkpointing=False)
    tested = trainer.test(model, dataloaders=loader, verbose=False)[0]
    metrics = {f"{cfg.split}/{k.split('/', 1)[1]}": v for k, v in tested.items()}
    result = to_float_dict(metrics)
    if model.contract.modality == "audio":  # min t-DCF, minDCF, actDCF, EER per codec / vocoder
        result.update(spoofing_metrics(model, datamodule, cfg.split))

    name = OmegaConf.select(cfg, "data.source.layout") or "synthetic"
    names = datamodule.video_names()
    model.write_test_report(out, names, title=f"{name} {cfg.split}")
    summary = uncertainty_report(model, datamodule, out, title=f"{name} {cfg.split}")
    result.update(flat(summary, f"{cfg.split}/"))
    result.update(localisation_report(model, datamodule, cfg.split, out))  # data with fake_segments: AP@IoU, AR@N
    extra = _robustness_and_breakdowns(cfg, model, datamodule, out, f"{name} {cfg.split}", result)
    if audio is not None:
        result.update(_audio_visual(cfg, model, audio, sources, out, names))
    audit = _format_audit(datamodule, cfg.split)
    aggregation = model.stage_metrics("test").aggregation
    write_json(
        out / "metrics.json",
        {
            **result,
            **{f"{cfg.split}/{k}": v for k, v in summary.items()},
            **extra,
            "threshold": float(model.threshold),
            "temperature": float(model.temperature),
            "uncertain_band": list(model.band() or ()) or None,
            "video_aggregation": aggregation,
            "checkpoint": str(cfg.ckpt_path),
            "split": cfg.split,
            **({"format_audit": audit} if audit else {}),
            "run_info": run_info(),
        },
    )
    log.info("Wrote %s", out)
    print_metrics(result, title=f"{cfg.split}: threshold {float(model.threshold):.3f}, video score = {aggregation}")
    if audio is not None:
        _print_fusion(result, cfg.split)
    warn_small(summary)
    return result


def _format_audit(datamodule: DeepfakeDataModule, split: str) -> dict[str, float] | None:
    """Whole images: the file-format shortcut audit of the evaluated split (:mod:`dfdet.data.images.audit`), logged
    as a warning above 0.7; None for other data."""
    if datamodule.modality != "image" or datamodule.manifest is None:
        return None
    from dfdet.data.images.audit import format_audit, warn_if_shortcut

    aucs = format_audit(datamodule.manifest[datamodule.manifest["split"] == split])
    warn_if_shortcut(aucs, where=f"{datamodule.source.name} {split}")
    return aucs


def uncertainty_report(
    model: DeepfakeDetector, datamodule: DeepfakeDataModule, out: Path, title: str
) -> dict[str, Any]:
    """Bootstrap intervals and the size flag of the last test epoch, and its ``reliability.png`` in ``out`` (see
    :func:`dfdet.metrics.uncertainty.video_uncertainty`)."""
    metric = model.stage_metrics("test")
    rows = model.predictions["test"]
    save_reliability(rows, out / "reliability.png", metric.aggregation, metric.top_k, title=title)
    speakers = datamodule.per_video("speaker")  # audio: resample speakers, not utterances
    return video_uncertainty(rows, float(model.threshold), metric.aggregation, metric.top_k, speakers)


def warn_small(summary: dict[str, Any]) -> None:
    """One warning line when the evaluated set has fewer than 20 videos of either class."""
    note = small_test_set(summary["real_videos"], summary["fake_videos"])
    if note:
        log.warning("Small test set: %s", note)


def _print_fusion(result: dict[str, float], split: str) -> None:
    """Video-level metrics side by side: face model, audio model (videos with sound), fused."""
    columns = {"video": "video_", "audio": "audio_", "fused": "av_"}
    names = ("auc", "ap", "eer", "acc", "precision", "recall", "f1")
    table = {f"{col}/{m}": result[f"{split}/{p}{m}"] for col, p in columns.items() for m in names}
    n, with_audio = int(result[f"{split}/videos"]), int(result[f"{split}/videos_with_audio"])
    weight = result[f"{split}/audio_weight"]
    print_metrics(table, title=f"{split}, audio-visual: {with_audio} of {n} videos with sound, audio weight {weight:g}")


def _check_perturb(cfg: DictConfig, modality: str) -> None:
    """A perturbation sweep's settings are checked before anything is scored (docs/robustness.md)."""
    from dfdet.perturb.task import plan, sweep_requested

    if sweep_requested(cfg):
        plan(cfg, modality)


def _robustness_and_breakdowns(
    cfg: DictConfig,
    model: DeepfakeDetector,
    datamodule: DeepfakeDataModule,
    out: Path,
    title: str,
    result: dict[str, float],
) -> dict[str, Any]:
    """The perturbation sweep (``perturb=default``) and the breakdowns (``breakdown=[...]``) when asked: their
    ``metrics.json`` entries; their headline numbers join ``result`` (docs/robustness.md)."""
    from dfdet.metrics.breakdown import breakdown_report
    from dfdet.perturb.task import evaluate_robustness, sweep_requested

    extra: dict[str, Any] = {}
    if cfg.get("breakdown"):
        extra["breakdown"] = breakdown_report(model, datamodule, list(cfg.breakdown), out, cfg.split)
        print((out / "breakdown.md").read_text())
    if sweep_requested(cfg):
        robust = evaluate_robustness(cfg, model, datamodule, out, title)
        result[f"{cfg.split}/robust_mean_auc"] = robust["mean_auc"] if robust["mean_auc"] is not None else float("nan")
        result[f"{cfg.split}/robust_mean_eer"] = robust["mean_eer"] if robust["mean_eer"] is not None else float("nan")
        extra["robustness"] = robust
        print((out / "robustness.md").read_text())
    return extra
