"""Evaluation: score a checkpoint on a dataset split; write metrics, per-frame predictions and plots."""

from __future__ import annotations

import lightning as L
from omegaconf import DictConfig, OmegaConf, open_dict

from dfdet.errors import CheckpointError
from dfdet.models import DeepfakeDetector, load_detector
from dfdet.tasks.common import build, log, output_dir, save_resolved_config
from dfdet.utils.runinfo import run_info, to_float_dict, write_json
from dfdet.utils.table import print_metrics


def _configure(model: DeepfakeDetector, cfg: DictConfig) -> None:
    """Applies the evaluation-time overrides (threshold, video aggregation) to a loaded model."""
    if cfg.get("threshold") is not None:
        model.fixed_threshold = float(cfg.threshold)
        model.threshold.fill_(float(cfg.threshold))
    for metric in model.eval_metrics.values():
        if cfg.get("video_aggregation"):
            metric.aggregation = str(cfg.video_aggregation)
        if cfg.get("top_k"):
            metric.top_k = int(cfg.top_k)


def _data_config(cfg: DictConfig, train_cfg: DictConfig) -> DictConfig:
    """The datamodule config: ``data=`` when given (cross-dataset), else the checkpoint's own; ``${model.*}`` keys
    resolve against the checkpoint's model."""
    with open_dict(cfg):
        cfg.model = train_cfg.model
        if "_target_" not in cfg.get("data", {}):
            cfg.data = train_cfg.data
            cfg.data.train_transform = None
        cfg.data.synthesis = None  # evaluation scores the dataset's own frames
    return cfg.data


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Evaluates ``cfg.ckpt_path`` on ``cfg.split`` of the configured data.

    Returns:
        Flat metrics keyed ``<split>/<metric>`` (frame level) and ``<split>/video_<metric>``, at the threshold
        chosen on validation (``<split>/threshold``) plus thresholded ones at 0.5 (``<split>/acc@0.5``, ...). Also
        written to ``metrics.json`` beside ``predictions.csv``, ``roc.png`` and ``score_hist.png``.
    """
    if cfg.split not in ("val", "test"):
        raise CheckpointError(f"split must be 'val' or 'test', got '{cfg.split}'")
    out = output_dir(cfg)
    model, train_cfg = load_detector(cfg.ckpt_path)
    _configure(model, cfg)
    datamodule = build(_data_config(cfg, train_cfg))
    datamodule.check()
    save_resolved_config(cfg, out / "config_resolved.yaml")
    datamodule.prepare_data()
    datamodule.setup("test")
    loader = datamodule.val_dataloader() if cfg.split == "val" else datamodule.test_dataloader()
    trainer: L.Trainer = build(cfg.trainer, logger=False, callbacks=[], enable_checkpointing=False)
    tested = trainer.test(model, dataloaders=loader, verbose=False)[0]
    metrics = {f"{cfg.split}/{k.split('/', 1)[1]}": v for k, v in tested.items()}
    result = to_float_dict(metrics)

    name = OmegaConf.select(cfg, "data.source.layout") or "synthetic"
    model.write_test_report(out, datamodule.video_names(), title=f"{name} {cfg.split}")
    aggregation = model.eval_metrics["test"].aggregation
    write_json(
        out / "metrics.json",
        {
            **result,
            "threshold": float(model.threshold),
            "video_aggregation": aggregation,
            "checkpoint": str(cfg.ckpt_path),
            "split": cfg.split,
            "run_info": run_info(),
        },
    )
    log.info("Wrote %s", out)
    print_metrics(result, title=f"{cfg.split}: threshold {float(model.threshold):.3f}, video score = {aggregation}")
    return result
