"""Export: a trained checkpoint to ONNX and TorchScript files with metadata, verified against eager PyTorch."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import torch
from omegaconf import DictConfig, OmegaConf
from rich.console import Console
from rich.table import Table

from dfdet.export import ExportError, ExportOptions, default_output_dir, export_detector, parse_formats
from dfdet.models import load_detector
from dfdet.tasks.common import log

RUNTIMES = {"onnx": "onnxruntime", "torchscript": "TorchScript"}


def export_options(cfg: DictConfig) -> ExportOptions:
    """The :class:`ExportOptions` of conf/export.yaml."""
    speed = cfg.get("speed")
    return ExportOptions(
        formats=parse_formats(str(cfg.format)),
        opset=int(cfg.opset),
        dynamo=bool(cfg.get("dynamo", False)),
        verify=bool(cfg.verify),
        atol=float(cfg.atol),
        batch_sizes=tuple(int(b) for b in cfg.verify_batch_sizes),
        seed=int(cfg.seed),
        speed_batch_size=int(speed.batch_size) if speed else None,
        speed_seconds=float(speed.seconds) if speed else 0.0,
    )


def result_table(results: dict[str, dict[str, Any]], title: str) -> Table:
    """One row per format: file, max |diff| to eager PyTorch per verification input set, speed relative to eager."""
    inputs = list(dict.fromkeys(name for r in results.values() for name in r["max_abs_diff"]))
    table = Table(title=title, caption="columns per input set: max |logit - eager logit|")
    table.add_column("format")
    table.add_column("file")
    for name in inputs:
        table.add_column(name, justify="right")
    table.add_column("speed vs eager", justify="right")
    for fmt, r in results.items():
        diffs = [f"{r['max_abs_diff'][n]:.1e}" if n in r["max_abs_diff"] else "" for n in inputs]
        speed = f"{r['speed_vs_eager']:.2f}x" if "speed_vs_eager" in r else "-"
        table.add_row(RUNTIMES[fmt], Path(r["path"]).name, *diffs, speed)
    return table


def export(cfg: DictConfig) -> dict[str, dict[str, Any]]:
    """Exports the checkpoint ``cfg.ckpt_path`` in ``cfg.format`` (see conf/export.yaml).

    Returns:
        Per format (``onnx``, ``torchscript``): ``path``, ``max_abs_diff`` (per verification input, e.g.
        ``"faces b3"``) and, when timed, ``speed_vs_eager`` (eager time / artifact time on this machine).

    Raises:
        ExportError: no ``ckpt_path``, bad options, or an artifact that does not match eager PyTorch.
        CheckpointError: a missing or corrupt checkpoint.
    """
    if OmegaConf.is_missing(cfg, "ckpt_path") or not cfg.ckpt_path:
        raise ExportError("ckpt_path is required: python export.py ckpt_path=<run>/checkpoints/best.ckpt")
    options = export_options(cfg)
    ckpt = Path(cfg.ckpt_path)
    model, train_cfg = load_detector(ckpt)
    config = model.run_config or cast(dict[str, Any], OmegaConf.to_container(train_cfg, resolve=True))
    out = Path(cfg.output_dir) if cfg.get("output_dir") else default_output_dir(ckpt)
    log.info("Exporting %s as %s to %s", ckpt, ", ".join(options.formats), out)
    results = export_detector(model, config, out, cfg.get("name") or ckpt.stem, options, checkpoint=ckpt)

    title = f"Exported to {out} (verified: atol {options.atol:g})" if options.verify else f"Exported to {out}"
    Console(width=120).print(result_table(results, title))
    if options.speed_batch_size is not None:
        for fmt, r in results.items():
            ms, eager_ms = r["seconds_per_batch"] * 1e3, r["eager_seconds_per_batch"] * 1e3
            print(
                f"{RUNTIMES[fmt]}: {r['speed_vs_eager']:.2f}x eager PyTorch speed ({ms:.1f} vs {eager_ms:.1f} ms "
                f"per batch of {options.speed_batch_size}, "
                f"{torch.get_num_threads()} torch threads, this machine)"
            )
    return results
