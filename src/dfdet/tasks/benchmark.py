"""Cross-dataset benchmark: one checkpoint evaluated on several test sets, one table with the protocol of each number.

Each test set is a data config name (``conf/data/<name>.yaml``). Its ``data`` node is composed with Hydra's compose
API against the running application's config search path (``benchmark.py`` is a ``@hydra.main`` app, so the same
``conf/`` and plugins), put into a copy of the benchmark config in place of ``data``, and handed to
:func:`dfdet.tasks.evaluate.evaluate` in this process with its own output folder. Composing a group on its own
(``+data=<name>``) keeps the data configs exactly as ``evaluate.py data=<name>`` reads them (defaults lists,
``${oc.env:...}`` roots, ``${paths.*}``); their ``${model.input.*}`` keys resolve against the checkpoint's model.

A set whose data is absent or not preprocessed (:class:`DatasetNotFoundError`, :class:`ManifestError`), of another
modality than the model (:class:`ContractError`), or without a data config is recorded as skipped with its reason;
anything else (a bad checkpoint, a bad option) stops the benchmark with one line, as in every entry point.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict

from dfdet.contract import ContractError, InputContract
from dfdet.errors import CheckpointError, ConfigValueError, DatasetNotFoundError, ManifestError, find_user_error
from dfdet.metrics.benchmark import SetResult, pooled_eers, print_benchmark, write_benchmark
from dfdet.models import DeepfakeDetector, load_detector
from dfdet.preprocess.store import MANIFEST, SETTINGS
from dfdet.tasks.checks import check_documented_keys
from dfdet.tasks.common import log, output_dir
from dfdet.tasks.evaluate import evaluate
from dfdet.tasks.preprocess import preprocess

# not passed on to evaluate
BENCHMARK_KEYS = ("test_sets", "roots", "data_overrides", "preprocess", "preprocess_overrides")
SKIPPED_ERRORS = (DatasetNotFoundError, ManifestError, ContractError)  # the set cannot be scored: skip it


@contextmanager
def hydra_context(config_dir: str | None) -> Iterator[None]:
    """Lets :func:`hydra.compose` run: inside a Hydra app (or a caller's ``initialize_config_dir``) as it is, else
    with ``config_dir`` (``initialize_config_dir`` cannot be nested in a running app: Hydra refuses to re-initialise).

    Raises:
        ConfigValueError: no Hydra app is running and no ``config_dir`` was given.
    """
    if GlobalHydra.instance().is_initialized():
        yield
        return
    if not config_dir:
        raise ConfigValueError(
            "benchmark() composes conf/data/<name>.yaml with Hydra's compose API: run benchmark.py, or call it with "
            "config_dir=<conf> or inside hydra.initialize_config_dir(<conf>)"
        )
    with initialize_config_dir(str(Path(config_dir).resolve()), version_base="1.3"):
        yield


def compose_data(name: str) -> DictConfig:
    """The ``data`` node of ``conf/data/<name>.yaml``, unresolved (Hydra must be initialised, see
    :func:`hydra_context`).

    Raises:
        DatasetNotFoundError: there is no such data config (the message lists the known ones).
    """
    known = GlobalHydra.instance().config_loader().get_group_options("data")
    if name not in known:  # also refuses paths (base/datamodule, ../train) and override syntax
        raise DatasetNotFoundError(f"no data config conf/data/{name}.yaml (known: {', '.join(known)})")
    return compose(overrides=[f"+data={name}"]).data


def _test_sets(cfg: DictConfig) -> list[str]:
    """The ``test_sets`` names, checked (a list of distinct names)."""
    sets = cfg.get("test_sets")
    if isinstance(sets, str):
        sets = [sets]
    if not isinstance(sets, list | ListConfig) or not sets or not all(isinstance(s, str) and s for s in sets):
        raise ConfigValueError(f"test_sets={sets} must be a non-empty list of data config names, e.g. [ffpp,celebdf]")
    if len(set(sets)) != len(sets):
        raise ConfigValueError(f"test_sets={list(sets)} names a set twice")
    return [str(s) for s in sets]


def set_config(cfg: DictConfig, name: str, data: DictConfig, out: Path) -> DictConfig:
    """The evaluate config of one test set: the benchmark config with ``data`` (plus ``roots.<name>`` and
    ``data_overrides.<name>``) and the set's own output folder."""
    set_cfg = copy.deepcopy(cfg)
    with open_dict(set_cfg):
        for key in BENCHMARK_KEYS:
            set_cfg.pop(key, None)
        set_cfg.data = data
        root = OmegaConf.select(cfg, f"roots.{name}")
        if root is not None:
            set_cfg.data.root = str(root)
        extra = OmegaConf.select(cfg, f"data_overrides.{name}")
        if extra is not None:
            set_cfg.data = OmegaConf.merge(set_cfg.data, extra)
        set_cfg.paths.output_dir = str(out)
    return set_cfg


def prepare_set(cfg: DictConfig, name: str, set_cfg: DictConfig) -> None:
    """With ``preprocess=true``, runs ``preprocess.py data=<name>`` (``conf/preprocess.yaml`` plus
    ``preprocess_overrides``, the set's root and data overrides) on a release that has no processed manifest yet;
    resumable, as preprocess.py is. Data without a release (synthetic, audio) or already processed is left alone.

    Raises:
        DfdetError: the release cannot be preprocessed (unusable layout, other settings, ...): the set is skipped.
    """
    processed = OmegaConf.select(set_cfg, "data.source.processed_dir")
    root = OmegaConf.select(set_cfg, "data.root")
    if not cfg.get("preprocess") or "release" not in set_cfg.data.get("source", {}) or not processed:
        return
    if (Path(str(processed)) / MANIFEST).is_file() or root is None or not Path(str(root)).is_dir():
        return  # processed already, or no release to read: evaluate says which

    pre_cfg = compose("preprocess", overrides=[f"data={name}", *cfg.get("preprocess_overrides", [])])
    with open_dict(pre_cfg):
        pre_cfg.data.root = str(root)
        extra = OmegaConf.select(cfg, f"data_overrides.{name}")
        if extra is not None:
            pre_cfg.data = OmegaConf.merge(pre_cfg.data, extra)
        pre_cfg.paths.data_dir = str(set_cfg.paths.data_dir)
        pre_cfg.paths.output_dir = str(Path(set_cfg.paths.output_dir) / "preprocess")
    log.info("Preprocessing test set %s into %s (preprocess=false skips unprocessed sets)", name, processed)
    preprocess(pre_cfg)


def threshold_source(cfg: DictConfig, fixed: float | None) -> str:
    """Where the decision threshold comes from: ``config`` (``threshold=``), ``training config`` (a fixed
    ``model.threshold``) or ``validation`` (the equal-error point of the validation scores, stored at training)."""
    if cfg.get("threshold") is not None:
        return "config"
    return "training config" if fixed is not None else "validation"


def data_protocol(set_cfg: DictConfig) -> dict[str, Any]:
    """How the set's inputs were made: from ``preprocess.json`` of a processed folder, the generator settings of the
    built-in synthetic data, else the data's modality only.

    Returns:
        ``pipeline``, ``frames_per_video``, ``detector``, ``margin``, ``crop_size`` (None where not applicable).
    """
    source = set_cfg.data.get("source", {})
    target = str(source.get("_target_", ""))
    processed = OmegaConf.select(set_cfg, "data.source.processed_dir")
    settings_path = Path(str(processed)) / SETTINGS if processed else None
    if settings_path is not None and settings_path.is_file():
        settings = json.loads(settings_path.read_text())
        detector = settings.get("detector", {})
        dataset = " ".join(str(settings[k]) for k in ("dataset", "compression") if settings.get(k))
        return {
            "pipeline": f"{dataset or target.rsplit('.', 1)[-1]} (preprocess.py)",
            "frames_per_video": settings.get("frames_per_video"),
            "detector": f"MTCNN (max side {detector.get('max_side')}, min face {detector.get('min_face_size')}, "
            f"every {settings.get('detect_every')})",
            "margin": settings.get("cropper", {}).get("margin"),
            "crop_size": settings.get("cropper", {}).get("size"),
        }
    if target == "dfdet.data.SyntheticSource":
        return {
            "pipeline": "synthetic (rendered crops)",
            "frames_per_video": OmegaConf.select(set_cfg, "data.source.frames_per_video"),
            "detector": "none",
            "margin": None,
            "crop_size": OmegaConf.select(set_cfg, "data.source.image_size"),
        }
    modality = str(set_cfg.data.get("modality") or "face")
    what = f"{modality} ({target.rsplit('.', 1)[-1]})" + (", no preprocess.json" if processed else "")
    return {"pipeline": what, "frames_per_video": None, "detector": None, "margin": None, "crop_size": None}


def model_input(contract: InputContract) -> str:
    """The model's input, in a few words (``64 px``, ``8000 samples @ 16000 Hz``, ``8x64 px clips``)."""
    if contract.modality == "audio":
        return f"{contract.num_samples} samples @ {contract.sample_rate} Hz"
    size = f"{contract.clip_len}x{contract.size} px clips" if contract.clip_len else f"{contract.size} px"
    return size + (f" + {contract.num_samples} samples" if contract.modality == "audio_visual" else "")


def _skipped(name: str, error: Exception, prefix: str = "") -> SetResult:
    reason = prefix + str(error).replace("\n", " ")
    log.warning("test set %s skipped: %s", name, reason)
    return SetResult(name, "skipped", reason=reason)


def _root_hint(name: str, data: DictConfig) -> str:
    """How to give the benchmark a set's release folder: ``+roots.<name>=`` or the data config's variable."""
    env = re.search(r"^root: \$\{oc\.env:(\w+)", OmegaConf.to_yaml(data), re.MULTILINE)  # unresolved
    return f"no release folder (+roots.{name}=/path/to/release{f' or {env.group(1)}' if env else ''}): "


def _run_set(cfg: DictConfig, name: str, out: Path, model: DeepfakeDetector, source: str) -> SetResult:
    """Evaluates one set; a set that cannot be scored is returned as skipped, with the one-line reason."""
    try:
        data = compose_data(name)
    except DatasetNotFoundError as exc:
        return _skipped(name, exc)
    set_cfg = set_config(cfg, name, data, out / name)
    try:
        prepare_set(cfg, name, set_cfg)
    except Exception as exc:
        error = find_user_error(exc)
        if error is None:
            raise
        return _skipped(name, error, "cannot be preprocessed: ")
    try:
        metrics = evaluate(set_cfg)
    except Exception as exc:
        error = find_user_error(exc)
        if not isinstance(error, SKIPPED_ERRORS):
            raise
        unset = "root" in set_cfg.data and OmegaConf.select(set_cfg, "data.root") is None
        return _skipped(name, error, _root_hint(name, data) if unset else "")
    saved = json.loads((out / name / "metrics.json").read_text())
    predictions = pd.read_csv(out / name / "predictions.csv")
    split = str(cfg.split)
    aggregation = str(saved["video_aggregation"])
    if aggregation == "topk_mean":
        aggregation += f" (top {cfg.get('top_k') or model.stage_metrics('test').top_k})"
    protocol = {
        **data_protocol(set_cfg),
        "input": model_input(model.contract),
        "video_aggregation": aggregation,
        "threshold": saved["threshold"],
        "threshold_source": source,
        "videos": int(predictions["video"].nunique()),
        "frames": len(predictions),
    }
    values = {k.split("/", 1)[1]: v for k, v in metrics.items() if k.startswith(f"{split}/")}
    return SetResult(name, "ok", metrics=values, protocol=protocol)


def benchmark(cfg: DictConfig, config_dir: str | None = None) -> dict[str, Any]:
    """Evaluates ``cfg.ckpt_path`` on each of ``cfg.test_sets`` and writes one table.

    Args:
        cfg: ``conf/benchmark.yaml``, composed.
        config_dir: the ``conf`` folder the data configs are read from when no Hydra app is running (in a running
            app, or inside ``hydra.initialize_config_dir``, its own search path is used).

    Writes ``benchmark.md``, ``benchmark.csv``, ``benchmark.json`` and ``benchmark.png`` into the run folder, and each
    set's evaluation (``metrics.json``, ``predictions.csv``, plots) into ``<run>/<set>/``.

    Returns:
        What ``benchmark.json`` holds: ``sets`` (one entry per test set: ``name``, ``status`` ``ok`` or ``skipped``,
        ``reason``, ``metrics``, ``protocol``), ``mean`` (metrics averaged over the sets that ran), ``checkpoint``,
        ``split``.
    """
    if OmegaConf.is_missing(cfg, "ckpt_path") or not cfg.ckpt_path:
        raise CheckpointError("ckpt_path is required: python benchmark.py ckpt_path=<run>/checkpoints/best.ckpt")
    if cfg.split not in ("val", "test"):
        raise ConfigValueError(f"split must be 'val' or 'test', got '{cfg.split}'")
    names = _test_sets(cfg)
    check_documented_keys(cfg)
    model, _ = load_detector(cfg.ckpt_path)  # a bad checkpoint stops here, before any set
    source = threshold_source(cfg, model.fixed_threshold)
    out = output_dir(cfg)
    with hydra_context(config_dir):
        results = [_run_set(cfg, name, out, model, source) for name in names]
    ran = {r.name: pd.read_csv(out / r.name / "predictions.csv") for r in results if r.status == "ok"}
    metric = model.stage_metrics("test")
    pooled = pooled_eers(
        ran, str(cfg.get("video_aggregation") or metric.aggregation), int(cfg.get("top_k") or metric.top_k)
    )
    report = write_benchmark(results, out, checkpoint=str(cfg.ckpt_path), split=str(cfg.split), pooled=pooled)
    print_benchmark(results, report["mean"], title=f"benchmark ({cfg.split}): {cfg.ckpt_path}", pooled=pooled)
    log.info("Wrote %s", out / "benchmark.md")
    return report
