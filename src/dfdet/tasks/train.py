"""Training: fit on train, validate every epoch, test the best-on-val checkpoint, write ``metrics.json``."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, cast

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig, OmegaConf

from dfdet.data.audio.silence import silence_audit, warn_if_silence_shortcut
from dfdet.data.images.audit import format_audit, warn_if_shortcut
from dfdet.metrics.uncertainty import flat
from dfdet.models import init_from_checkpoint, read_checkpoint
from dfdet.models.tuning import describe as describe_parameters
from dfdet.tasks.checks import check_documented_keys
from dfdet.tasks.common import build, check_modality, instantiate_dict, log, output_dir, save_resolved_config
from dfdet.tasks.evaluate import uncertainty_report, warn_small
from dfdet.utils.loggers import log_images, log_run
from dfdet.utils.runinfo import data_fingerprint, run_info, to_float_dict, write_json
from dfdet.utils.table import print_metrics


def _record_crop_margin(cfg: DictConfig, datamodule: Any, model: Any) -> None:
    """Face (and audio-visual) models record the margin their training crops were made with (from the preprocessed
    data), so prediction crops the same way; data without one (the synthetic set) leaves the contract's value."""
    margin = getattr(datamodule.source, "crop_margin", None)
    value = margin() if callable(margin) else None
    if value is None or model.contract.modality not in ("face", "audio_visual"):
        return
    model.set_crop_margin(value)
    cfg.model.input.crop_margin = value  # the stored config says the same


def train(cfg: DictConfig) -> dict[str, float]:
    """Trains the configured model on the configured data.

    Returns:
        Flat metrics (``val/auc_best``, ``test/auc``, ``test/video_auc``, ...), also written to
        ``<output_dir>/metrics.json``.
    """
    start = time.perf_counter()
    check_documented_keys(cfg)
    for key in ("ckpt_path", "finetune_from"):  # a missing, corrupt, foreign or unsafe file: one line, before any work
        if cfg.get(key):
            read_checkpoint(cfg[key])
    out = output_dir(cfg)
    if cfg.get("seed") is not None:
        L.seed_everything(cfg.seed, workers=True)

    check_modality(cfg.model, cfg.data)
    datamodule = build(cfg.data)
    datamodule.check()
    model = build(cfg.model)
    _record_crop_margin(cfg, datamodule, model)
    if cfg.get("finetune_from"):
        init_from_checkpoint(model, cfg.finetune_from, freeze_backbone=bool(cfg.get("freeze_backbone", False)))
    model.run_config = OmegaConf.to_container(cfg, resolve=True)
    info = {**run_info(), "resumed_from": cfg.get("ckpt_path"), "finetuned_from": cfg.get("finetune_from")}
    info.update(describe_parameters(model))  # params/trained, params/total: what model.tuning leaves trainable
    log.info("Parameters: %(params/trained)d trained of %(params/total)d", info)
    datamodule.prepare_data()
    info["data_manifest_sha256"] = data_fingerprint(datamodule)  # sets the datamodule up
    if getattr(datamodule, "modality", None) == "image":  # whole images: warn of a file-format shortcut
        warn_if_shortcut(format_audit(datamodule.manifest), where=datamodule.source.name)
    if getattr(datamodule, "modality", None) in ("audio", "audio_visual"):  # warn of a silence shortcut
        warn_if_silence_shortcut(silence_audit(datamodule.manifest), where=datamodule.source.name)
    _on_rank_zero(save_resolved_config, cfg, out / "config_resolved.yaml")
    _on_rank_zero(write_json, out / "run_info.json", info)
    callbacks = instantiate_dict(cfg.get("callbacks"))
    loggers = instantiate_dict(cfg.get("logger"))
    trainer: L.Trainer = build(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    log_run(trainer.loggers, model.run_config, info)

    name = OmegaConf.select(cfg, "model.net.name") or type(model.net).__name__
    log.info("Training %s on %s", name, OmegaConf.select(cfg, "data._target_"))
    trainer.fit(model, datamodule=datamodule, ckpt_path=cfg.get("ckpt_path"), weights_only=True)
    logged = trainer.callback_metrics
    # Lightning's per-step twin of a metric logged per step and per epoch ("train/loss_step"); not a metric whose
    # own name ends so (the EER of a generator called "diffusion_few_step")
    per_step = {k for k in logged if k.endswith("_step") and f"{k[: -len('_step')]}_epoch" in logged}
    metrics: dict[str, Any] = {
        k: v for k, v in logged.items() if k.startswith(("train/", "val/")) and k not in per_step
    }
    # Lightning documents this as the first ModelCheckpoint; its annotation says the Checkpoint base class.
    ckpt = cast(ModelCheckpoint | None, trainer.checkpoint_callback)
    best_path = getattr(ckpt, "best_model_path", "") if ckpt is not None else ""
    if ckpt is not None and ckpt.best_model_score is not None:
        monitor = cast(str, ckpt.monitor)  # a best score implies a monitored metric
        metrics[f"val/{monitor.split('/', 1)[-1]}_best"] = ckpt.best_model_score

    calibration = cfg.get("calibration") or {}
    if calibration.get("enabled", True):
        metrics.update(_calibrate(trainer, model, datamodule, best_path, float(calibration.get("precision", 0.9))))

    if cfg.get("test", True):
        tested = trainer.test(model, datamodule=datamodule, ckpt_path=best_path or None, weights_only=True)
        metrics.update(tested[0] if tested else {})
        log.info("Tested checkpoint: %s", best_path or "the final weights")
        if trainer.is_global_zero:  # every DDP process runs this task; one writes
            reports = model.write_test_report(out, datamodule.video_names(), title="test")
            summary = uncertainty_report(model, datamodule, out, title="test")
            reports["reliability"] = out / "reliability.png"
            metrics.update(flat(summary, "test/"))
            warn_small(summary)
            log_images(trainer.loggers, {f"test/{k}": v for k, v in reports.items() if v.suffix == ".png"})
    result = to_float_dict(metrics)
    result["time/total_s"] = time.perf_counter() - start
    if trainer.is_global_zero:
        write_json(out / "metrics.json", {**result, "video_aggregation": model.stage_metrics("test").aggregation})
        print_metrics(result, title=f"Metrics ({out})")
    return result


def _calibrate(trainer: L.Trainer, model: Any, datamodule: Any, best_path: str, precision: float) -> dict[str, float]:
    """Fits the temperature and the uncertain band on the validation rows of the best checkpoint (the weights in
    memory without one) and stores them in that checkpoint, which test, export and prediction then read.

    Returns:
        ``calibration/temperature``, ``calibration/threshold`` (moved with the temperature: decisions unchanged),
        ``calibration/band_low``, ``calibration/band_high``, and the validation ``calibration/val_ece_before``,
        ``..._after``, ``calibration/val_logloss_before``, ``..._after``.
    """
    from dfdet.metrics.calibration import expected_calibration_error, nll

    trainer.validate(model, datamodule=datamodule, ckpt_path=best_path or None, verbose=False, weights_only=True)
    rows = model.predictions.get("val")
    if rows is None or rows["preds"].numel() == 0:
        log.warning("No validation rows: the model is not calibrated (temperature 1, no uncertain band)")
        return {}
    p = rows["preds"].double().clamp(1e-7, 1 - 1e-7)
    logits = torch.log(p / (1 - p)) * float(model.temperature)
    before = {"ece": expected_calibration_error(p, rows["target"]), "logloss": nll(logits, rows["target"], 1.0)}
    fitted = model.calibrate(rows, precision)
    scaled = torch.sigmoid(logits / fitted["temperature"])
    after = {"ece": expected_calibration_error(scaled, rows["target"]),
             "logloss": nll(logits, rows["target"], fitted["temperature"])}  # fmt: skip
    log.info("Calibrated on validation: temperature %.3f, log-loss %.4f -> %.4f, ECE %.4f -> %.4f, threshold %.4f, "
             "uncertain band [%.3f, %.3f)", fitted["temperature"], before["logloss"], after["logloss"], before["ece"],
             after["ece"], fitted["threshold"], fitted["band_low"], fitted["band_high"])  # fmt: skip
    if not 0.051 < fitted["temperature"] < 19.9:
        log.warning("The temperature reached its search bound (%.2f): the validation scores carry almost no "
                    "information (or a class is nearly separable); read the probabilities with care",
                    fitted["temperature"])  # fmt: skip
    if best_path and trainer.is_global_zero:
        ckpt = torch.load(best_path, map_location="cpu", weights_only=True)
        for name in ("threshold", "temperature", "uncertain_band"):
            ckpt["state_dict"][name] = getattr(model, name).detach().cpu().clone()
        torch.save(ckpt, best_path)
    trainer.strategy.barrier()
    out = {f"calibration/{k}": v for k, v in fitted.items()}
    out.update({f"calibration/val_{k}_before": v for k, v in before.items()})
    return {**out, **{f"calibration/val_{k}_after": v for k, v in after.items()}}


def _on_rank_zero(fn: Callable[..., Any], *args: Any) -> None:
    """Runs ``fn`` in the rank-0 process only (every DDP process runs this task)."""
    rank_zero_only(fn)(*args)
