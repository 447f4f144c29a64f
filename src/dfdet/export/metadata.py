"""What every exported artifact says about itself: backbone, input layout, threshold, output meaning, provenance."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from dfdet import __version__
from dfdet.contract import InputContract
from dfdet.provenance import trained_on
from dfdet.utils.hashing import file_sha256

INPUT_NAME = "input"
OUTPUT_NAME = "logit"
OUTPUT_MEANING = "logit; sigmoid(logit / temperature) gives the probability that the input is manipulated (fake=1)"


def config_sha256(config: Mapping[str, Any]) -> str:
    """sha256 of the resolved training config as canonical JSON (sorted keys, no spaces).

    Reproduce it with ``hashlib.sha256(json.dumps(cfg, sort_keys=True, separators=(",", ":")).encode()).hexdigest()``
    on ``OmegaConf.to_container(cfg, resolve=True)``.
    """
    payload = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(payload.encode()).hexdigest()


def build_metadata(
    config: Mapping[str, Any],
    spec: InputContract,
    threshold: float,
    threshold_source: str,
    checkpoint: str | os.PathLike | None = None,
    temperature: float = 1.0,
    uncertain_band: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """The metadata shared by every format (JSON-serialisable values).

    Args:
        config: the resolved training config stored in the checkpoint.
        spec: the model's input contract, written whole as ``input_contract`` (JSON) and, for readers that predate
            it, as the flat keys ``input_size``, ``mean``, ``std``, ``clip_len``, ``sample_rate``...
        threshold: decision threshold on the fake probability (``sigmoid(logit / temperature)``).
        threshold_source: where it comes from: ``validation`` (chosen on the validation split) or ``config``.
        checkpoint: the checkpoint file the weights come from (its name and sha256 are recorded).
        temperature: the temperature fitted on validation (the probability is ``sigmoid(logit / temperature)``; the
            graph still outputs the logit).
        uncertain_band: ``(low, high)`` of the ``uncertain`` verdict on that probability, or None (written as null).

    ``trained_on`` is ``synthetic`` for a model trained on dfdet's built-in synthetic data (a demonstration model,
    see :mod:`dfdet.provenance`), else ``data``.

    ``version`` is the first 12 hex digits of the checkpoint's sha256 (what :mod:`dfdet.predict` reports for the
    checkpoint itself, so both name the same weights the same way), or the dfdet version without a checkpoint;
    ``dfdet_version`` always holds the latter. :func:`~dfdet.export.export_detector` adds ``name`` (the file name).
    """
    model_cfg = config.get("model", {})
    net_cfg = model_cfg.get("net", {}) or {}
    backbone = net_cfg.get("name") or str(net_cfg.get("_target_", "unknown")).rsplit(".", 1)[-1]
    audio = spec.modality == "audio"
    side = int((spec.num_samples if audio else spec.size) or 0)
    layout = f"{spec.layout} float32 " + ("waveform" if audio else "RGB")
    meta: dict[str, Any] = {
        "backbone": backbone,
        "modality": spec.modality,
        "input_contract": spec.to_dict(),
        "input_name": INPUT_NAME if len(spec.input_keys) == 1 else list(spec.input_keys),
        "input_shape": list(spec.shape("batch"))
        if len(spec.input_keys) == 1
        else {k: list(v) for k, v in spec.shapes("batch").items()},
        "input_size": side,
        "input_layout": layout,
        "preprocessing": spec.describe(),
        "mean": list(spec.mean or (0.0,)),
        "std": list(spec.std or (1.0,)),
        "output_name": OUTPUT_NAME,
        "output_shape": ["batch"],
        "output": OUTPUT_MEANING,
        "threshold": float(threshold),
        "threshold_source": threshold_source,
        "temperature": float(temperature),
        "uncertain_band": None if uncertain_band is None else [float(v) for v in uncertain_band],
        "trained_on": trained_on(config),
        "video_aggregation": model_cfg.get("video_aggregation", "mean"),
        "top_k": int(model_cfg.get("top_k", 5)),
        "config_sha256": config_sha256(config),
        "dfdet_version": __version__,
        "version": __version__,
        "torch_version": torch.__version__,
    }
    if spec.clip_len is not None:
        meta["clip_len"] = spec.clip_len
        meta["clip_stride"] = spec.clip_stride
    if audio or spec.modality == "audio_visual":
        meta["sample_rate"] = spec.sample_rate
        meta["num_samples"] = int(spec.num_samples or 0)
    if checkpoint is not None:
        meta["checkpoint"] = Path(checkpoint).name
        meta["checkpoint_sha256"] = file_sha256(checkpoint)
        meta["version"] = meta["checkpoint_sha256"][:12]  # what the predictor reports for the checkpoint itself
    return meta
