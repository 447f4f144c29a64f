"""Perturbation sweeps: score one evaluation set under every setting (distortion, level) of a list.

Speed (the sweep is tens of evaluations): each item is decoded once and kept in memory (up to ``cache_mb``), then
every setting distorts the decoded media in place of re-reading files, so a face sweep reuses the stored crops and
the boxes found once; distortion and the input transform run in a thread pool (OpenCV, PyAV and NumPy release the
GIL), and the network runs in batches without Lightning's loop: on the CPU through onnxruntime (``engine``), whose
forward pass is several times faster there than eager PyTorch's (``benchmarks/bench_perturb.py``). The batches of
all settings form one stream (the pool makes the next batch, of this setting or the next, while one is scored), and
each setting's bootstrap intervals are computed in a thread of their own while the next settings run. Each item's
randomness depends on the seed, the setting and the item only (:func:`~dfdet.perturb.registry.item_rng`), so results
do not depend on batch size, threads or order.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import threading
import time
from collections.abc import Callable, Generator, Sequence
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
    with contextlib.closing(_scored(model, dataset, [(setting, cache)], seed, batch_size, workers, sample_rate,
                                    runner)) as scored:  # fmt: skip
        return next(scored)


@torch.inference_mode()
def _scored(
    model: Any,
    dataset: RawDataset,
    sources: Sequence[tuple[Setting | None, MediaSource]],
    seed: int,
    batch_size: int,
    workers: int,
    sample_rate: int | None,
    runner: Callable[[Any], torch.Tensor] | None,
) -> Generator[dict[str, torch.Tensor], None, None]:
    """The rows of :func:`score_items` for each (setting, media) of ``sources`` in turn, as one pipeline: the batches
    of every setting form one stream, so the pool makes the first batch of the next setting while the last one of
    the current setting is scored."""

    def make(source: tuple[Setting | None, MediaSource], i: int) -> dict[str, torch.Tensor]:
        setting, media_source = source
        media = media_source.get(i)
        if setting is not None:
            media = setting.apply(media, item_rng(seed, setting, dataset.raw_key(i)), sample_rate)
        return dataset.from_raw(i, media)

    if getattr(dataset, "variable_size", False):
        batch_size = 1  # items of each image's own size (whole-image models that read the image whole)
    model.eval()
    device = next(iter(model.parameters())).device
    chunks = [range(s, min(s + batch_size, len(dataset))) for s in range(0, len(dataset), batch_size)]
    jobs = [(source, chunk) for source in sources for chunk in chunks]
    pool = ThreadPoolExecutor(workers) if workers > 1 else None
    # onnxruntime (its own threads, the GIL released) or a GPU scores a batch while the pool makes the next one;
    # eager PyTorch's OpenMP threads on the CPU would fight the pool's, so there items are made, then scored.
    on_cpu_eager = (runner is None or runner is model) and device.type == "cpu"
    overlap = pool is not None and not on_cpu_eager

    def submit(job: tuple[tuple[Setting | None, MediaSource], range]) -> list[Future[dict[str, torch.Tensor]]]:
        assert pool is not None
        return [pool.submit(make, job[0], i) for i in job[1]]

    preds: list[torch.Tensor] = []
    target: list[torch.Tensor] = []
    video: list[torch.Tensor] = []
    try:
        pending = submit(jobs[0]) if overlap and jobs else []
        for k, (source, chunk) in enumerate(jobs):
            if overlap:
                items = [f.result() for f in pending]
                pending = submit(jobs[k + 1]) if k + 1 < len(jobs) else []
            elif pool is not None:
                items = list(pool.map(functools.partial(make, source), chunk))
            else:
                items = [make(source, i) for i in chunk]
            batch = default_collate(items)
            inputs = model.inputs({key: v.to(device) for key, v in batch.items()})
            logits = (runner or model)(inputs)
            preds.append(torch.sigmoid(logits.float() / model.temperature).cpu())
            target.append(batch["label"])
            video.append(batch["video_idx"])
            if chunk is chunks[-1]:
                yield {"preds": torch.cat(preds), "target": torch.cat(target), "video_idx": torch.cat(video)}
                preds, target, video = [], [], []
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)


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
    on_distortion: Callable[[list[dict[str, Any]], dict[str, Any]], Any] | None = None,
) -> SweepResult:
    """Scores ``dataset`` clean, then under each setting; see :func:`~dfdet.metrics.scores.video_scores` for the
    numbers of each row (plus ``distortion``, ``level``, ``param``; the clean row has ``distortion`` ``clean``).

    ``prepared`` gives, for settings applied upstream of the items (the faithful mode's re-encoded source videos),
    the media of each item already distorted; they are scored as they are. ``engine``: see
    :func:`inference_runner`. ``on_distortion(rows, clean_row)`` is called with the rows of each distortion's
    levels as soon as they are all scored (e.g. to draw its curve while the sweep goes on), in a thread of its own.
    """
    cache = DecodedCache(dataset, cache_mb)
    model.eval()
    runner = inference_runner(model, dataset, cache, engine, batch_size, workers)
    result = SweepResult()
    order: list[Setting | None] = [None, *settings]
    upstream = prepared or {}
    sources = [(None, upstream[s]) if s in upstream else (s, cache) for s in order]

    def row_of(setting: Setting | None, rows: dict[str, torch.Tensor]) -> dict[str, Any]:
        scores = video_scores(rows["preds"], rows["target"], rows["video_idx"], threshold, aggregation, top_k,
                              bootstrap, seed)  # fmt: skip
        return {
            "distortion": "clean" if setting is None else setting.distortion,
            "level": 0 if setting is None else setting.level,
            "param": None if setting is None else setting.param,
            **scores,
        }

    def report(callback: Callable[..., Any], levels: list[Future[dict[str, Any]]]) -> Any:
        return callback([f.result() for f in levels], rows_of[0].result())

    # Each setting's numbers (the bootstrap) and, once its last level is in, a distortion's ``on_distortion`` run
    # in a thread of their own, in order, while the next settings are scored.
    after = ThreadPoolExecutor(1)
    rows_of: list[Future[dict[str, Any]]] = []
    drawn: list[Future[Any]] = []
    scored = _scored(model, dataset, sources, seed, batch_size, workers, sample_rate, runner)
    start = time.perf_counter()
    try:
        for k, (setting, rows) in enumerate(zip(order, scored, strict=True)):
            now = time.perf_counter()
            result.seconds["clean" if setting is None else setting.name] = now - start
            start = now
            rows_of.append(after.submit(row_of, setting, rows))
            following = order[k + 1] if k + 1 < len(order) else None
            last = setting is not None and (following is None or following.distortion != setting.distortion)
            if on_distortion is not None and setting is not None and last:
                mine = [
                    f
                    for s, f in zip(order, rows_of, strict=False)
                    if s is not None and s.distortion == setting.distortion
                ]
                drawn.append(after.submit(report, on_distortion, mine))
        result.rows = [f.result() for f in rows_of]
        for future in drawn:
            future.result()
    finally:
        scored.close()
        after.shutdown(cancel_futures=True)
    for setting, row in zip(order, result.rows, strict=True):
        name = "clean" if setting is None else setting.name
        log.info("%s: AUC %s, EER %s (%.1f s)", name, row["auc"], row["eer"], result.seconds[name])
    log.info("Decoded %d items once for %d settings (%.0f MB kept)", cache.reads, len(settings) + 1, cache.used / 2**20)
    return result
