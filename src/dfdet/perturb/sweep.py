"""Perturbation sweeps: score one evaluation set under every setting (distortion, level) of a list.

Speed (the sweep is tens of evaluations): each item is decoded once and kept in memory (up to ``cache_mb``), then
every setting distorts the decoded media in place of re-reading files, so a face sweep reuses the stored crops and
the boxes found once; distortion and the input transform run in a thread pool (OpenCV, PyAV and NumPy release the
GIL), and the network runs in batches without Lightning's loop: on the CPU through onnxruntime (``engine``), whose
forward pass is several times faster there than eager PyTorch's (``benchmarks/bench_perturb.py``). Each item's
randomness depends on the seed, the setting and the item only (:func:`~dfdet.perturb.registry.item_rng`), so results
do not depend on batch size, threads or order.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
from torch.utils.data import default_collate

from dfdet.metrics.scores import video_scores
from dfdet.perturb.registry import Setting, item_rng

log = logging.getLogger(__name__)


class RawDataset(Protocol):
    """A dataset whose items are made from decoded media (:mod:`dfdet.data.datasets`)."""

    def __len__(self) -> int: ...
    def raw_key(self, i: int) -> int: ...
    def raw(self, i: int) -> np.ndarray: ...
    def from_raw(self, i: int, media: np.ndarray) -> dict[str, torch.Tensor]: ...


class DecodedCache:
    """Decoded media by key, kept while their total size stays under ``limit_mb`` (later ones are re-read)."""

    def __init__(self, dataset: RawDataset, limit_mb: float) -> None:
        self.dataset = dataset
        self.limit = int(limit_mb * 2**20)
        self.used = 0
        self.items: dict[int, np.ndarray] = {}
        self.reads = 0
        self._lock = threading.Lock()

    def get(self, i: int) -> np.ndarray:
        key = self.dataset.raw_key(i)
        media = self.items.get(key)
        if media is None:
            media = self.dataset.raw(i)
            media.flags.writeable = False  # distortions return new arrays; none may edit the decoded one
            with self._lock:
                self.reads += 1
                if key not in self.items and self.used + media.nbytes <= self.limit:
                    self.items[key] = media
                    self.used += media.nbytes
        return media


class MediaSource(Protocol):
    """Decoded media by dataset item (:class:`DecodedCache`, or media distorted upstream)."""

    def get(self, i: int) -> np.ndarray: ...


@dataclass
class SweepResult:
    """The scores of every setting, the clean ones first (``setting`` None), and the time each took."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


ENGINES = ("auto", "eager", "onnxruntime")


def inference_runner(
    model: Any, dataset: RawDataset, cache: MediaSource, engine: str, batch_size: int, workers: int = 2
) -> Callable[[Any], torch.Tensor]:
    """What runs the network in the sweep: ``model`` itself (``eager``), or its ONNX graph in onnxruntime
    (``onnxruntime``), traced on the first clean batch and checked against eager PyTorch on it
    (:func:`~dfdet.export.onnx_session`). ``auto``: onnxruntime when the model is on the CPU, falling back to eager
    PyTorch (with a warning) when the network does not export. onnxruntime gets the cores that the ``workers``
    threads making the next batch leave (at least one): the two run at the same time.

    Raises:
        ValueError: an unknown engine.
        dfdet.export.ExportError: ``onnxruntime`` asked for and the graph does not match eager PyTorch.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine={engine!r}: choose one of {', '.join(ENGINES)}")
    device = next(iter(model.parameters())).device
    if engine == "eager" or (engine == "auto" and device.type != "cpu"):
        return model
    if device.type != "cpu":
        raise ValueError(f"engine=onnxruntime runs on the CPU, the model is on {device}: choose auto or eager")
    from dfdet.export import onnx_session

    variable = bool(getattr(dataset, "variable_size", False))
    first = range(min(1 if variable else batch_size, len(dataset)))
    with torch.inference_mode():
        example = model.inputs(default_collate([dataset.from_raw(i, cache.get(i)) for i in first]))
    try:
        threads = max(1, (os.cpu_count() or 1) - workers) if workers > 1 else None
        return onnx_session(model, example, atol=1e-4, spatial=variable, threads=threads)
    except Exception as exc:  # noqa: BLE001 - any exporter failure: eager PyTorch computes the same scores
        if engine == "onnxruntime":
            raise
        log.warning("The sweep runs eager PyTorch: the network did not export to ONNX (%s)", exc)
        return model


@torch.inference_mode()
def score_items(
    model: Any,
    dataset: RawDataset,
    cache: MediaSource,
    setting: Setting | None,
    seed: int,
    batch_size: int = 64,
    workers: int = 2,
    sample_rate: int | None = None,
    runner: Callable[[Any], torch.Tensor] | None = None,
) -> dict[str, torch.Tensor]:
    """Frame fake-probabilities of every item of ``dataset`` under ``setting`` (None: clean), the network run by
    ``runner`` (:func:`inference_runner`; None: ``model``).

    Returns:
        ``preds``, ``target``, ``video_idx`` (N,) as :class:`~dfdet.metrics.DetectionMetrics` keeps them.
    """

    def make(i: int) -> dict[str, torch.Tensor]:
        media = cache.get(i)
        if setting is not None:
            media = setting.apply(media, item_rng(seed, setting, dataset.raw_key(i)), sample_rate)
        return dataset.from_raw(i, media)

    if getattr(dataset, "variable_size", False):
        batch_size = 1  # items of each image's own size (whole-image models that read the image whole)
    model.eval()
    device = next(iter(model.parameters())).device
    preds, target, video = [], [], []
    chunks = [range(s, min(s + batch_size, len(dataset))) for s in range(0, len(dataset), batch_size)]
    pool = ThreadPoolExecutor(workers) if workers > 1 else None
    # onnxruntime (its own threads, the GIL released) scores a batch while the pool makes the next one; eager
    # PyTorch's OpenMP threads would fight the pool's, so with it items are made, then scored.
    overlap = pool is not None and runner is not None and runner is not model

    def submit(chunk: range) -> list[Future[dict[str, torch.Tensor]]]:
        assert pool is not None
        return [pool.submit(make, i) for i in chunk]

    try:
        pending = submit(chunks[0]) if overlap and chunks else []
        for k, chunk in enumerate(chunks):
            if overlap:
                items = [f.result() for f in pending]
                pending = submit(chunks[k + 1]) if k + 1 < len(chunks) else []
            else:
                items = list(pool.map(make, chunk)) if pool is not None else [make(i) for i in chunk]
            batch = default_collate(items)
            inputs = model.inputs({key: v.to(device) for key, v in batch.items()})
            logits = (runner or model)(inputs)
            preds.append(torch.sigmoid(logits.float() / model.temperature).cpu())
            target.append(batch["label"])
            video.append(batch["video_idx"])
    finally:
        if pool is not None:
            pool.shutdown()
    return {"preds": torch.cat(preds), "target": torch.cat(target), "video_idx": torch.cat(video)}


def run_sweep(
    model: Any,
    dataset: RawDataset,
    settings: Sequence[Setting],
    seed: int,
    threshold: float,
    aggregation: str = "mean",
    top_k: int = 5,
    batch_size: int = 64,
    workers: int = 2,
    cache_mb: float = 4096,
    bootstrap: int = 0,
    sample_rate: int | None = None,
    prepared: dict[Setting, MediaSource] | None = None,
    engine: str = "auto",
) -> SweepResult:
    """Scores ``dataset`` clean, then under each setting; see :func:`~dfdet.metrics.scores.video_scores` for the
    numbers of each row (plus ``distortion``, ``level``, ``param``; the clean row has ``distortion`` ``clean``).

    ``prepared`` gives, for settings applied upstream of the items (the faithful mode's re-encoded source videos),
    the media of each item already distorted; they are scored as they are. ``engine``: see
    :func:`inference_runner`.
    """
    cache = DecodedCache(dataset, cache_mb)
    model.eval()
    runner = inference_runner(model, dataset, cache, engine, batch_size, workers)
    result = SweepResult()
    for setting in [None, *settings]:
        start = time.perf_counter()
        upstream = (prepared or {}).get(setting) if setting is not None else None
        media, applied = (upstream, None) if upstream is not None else (cache, setting)
        rows = score_items(model, dataset, media, applied, seed, batch_size, workers, sample_rate, runner)
        scores = video_scores(rows["preds"], rows["target"], rows["video_idx"], threshold, aggregation, top_k,
                              bootstrap, seed)  # fmt: skip
        name = "clean" if setting is None else setting.name
        result.seconds[name] = time.perf_counter() - start
        row = {
            "distortion": "clean" if setting is None else setting.distortion,
            "level": 0 if setting is None else setting.level,
            "param": None if setting is None else setting.param,
            **scores,
        }
        result.rows.append(row)
        log.info("%s: AUC %s, EER %s (%.1f s)", name, row["auc"], row["eer"], result.seconds[name])
    log.info("Decoded %d items once for %d settings (%.0f MB kept)", cache.reads, len(settings) + 1, cache.used / 2**20)
    return result
