"""Preprocessing: read a release as published, turn its videos into face crops, assemble the manifest.

``mode=check`` only scans the release and prints the layout report and the video counts; ``mode=run`` processes
this shard's unfinished videos and, when there is a single shard, assembles ``manifest.parquet`` and
``failures.csv``; ``mode=merge`` only assembles them (after all shards have run).
"""

from __future__ import annotations

import time
from typing import Any

import pandas as pd
from omegaconf import DictConfig

from dfdet.errors import DfdetError
from dfdet.preprocess.runner import run_jobs, select_jobs
from dfdet.preprocess.store import FAILURES, MANIFEST, ProcessedStore
from dfdet.tasks.common import build, log, output_dir
from dfdet.utils.runinfo import write_json

MODES = ("run", "merge", "check")


class PreprocessError(DfdetError):
    """Preprocessing cannot run as configured, or produced nothing to train on."""


def preprocess(cfg: DictConfig) -> dict[str, Any]:
    """Runs one preprocessing step (see the module docstring) on ``cfg.data``.

    Returns:
        A flat summary (``videos``, ``done``, ``failed``, ``skipped``, ``crops``, ``manifest_frames``, ...), also
        written to ``<output_dir>/summary.json``.
    """
    start = time.perf_counter()
    mode = cfg.get("mode", "run")
    if mode not in MODES:
        raise PreprocessError(f"mode must be one of {', '.join(MODES)}, got '{mode}'")
    if "release" not in cfg.data.get("source", {}):
        raise PreprocessError(
            "This data config has no release to preprocess (data.source.release); choose data=ffpp, celebdf, dfdc "
            "or folder."
        )
    release = build(cfg.data.source.release)
    table, report = release.scan()
    for line in report.lines():
        log.warning("%s: %s", release.name, line)
    report.raise_if_unusable(table, **release.layout_fmt())
    summary: dict[str, Any] = {"dataset": release.key, "root": str(release.resolved_root()), **_counts(table)}
    print(f"{release.name} at {summary['root']}: {_describe(table)}")
    if mode == "check":
        return _finish(cfg, summary, start)

    store: ProcessedStore = build(cfg.store)
    preprocessor = build(cfg.preprocessor)
    store.claim(
        {
            "dataset": release.key,
            **release.layout_fmt(),
            **preprocessor.settings(),
            "image_format": store.image_format,
            "jpeg_quality": store.jpeg_quality,
        }
    )
    if mode == "run":
        jobs, stats = select_jobs(
            table, release.resolved_root(), store, cfg.shard, cfg.num_shards, cfg.get("limit"), cfg.retry_failed
        )
        print(
            f"shard {cfg.shard}/{cfg.num_shards}: {stats.selected} videos, {stats.skipped} done before, "
            f"{len(jobs)} to process with {cfg.workers} worker(s)"
        )
        run_jobs(jobs, preprocessor, store, stats, cfg.workers, cfg.torch_threads, cfg.progress)
        summary.update(
            shard=cfg.shard, selected=stats.selected, skipped=stats.skipped, done=stats.done, failed=stats.failed
        )
        summary.update(crops=stats.crops, partial=stats.partial, run_seconds=round(stats.seconds, 1))
        summary.update(failure_reasons=dict(stats.reasons))
        rate = stats.done + stats.failed
        print(
            f"processed {rate} videos ({stats.done} done, {stats.failed} failed, {stats.crops} crops) in "
            f"{stats.seconds:.1f} s ({rate / max(stats.seconds, 1e-9):.2f} videos/s)"
            + (f"; failures: {dict(stats.reasons)}" if stats.failed else "")
            + (f"; {stats.partial} truncated video(s) read in part" if stats.partial else "")
        )
    if mode == "merge" or cfg.num_shards == 1:
        summary.update(_merge(store, table))
    elif mode == "run":
        print(f"shard {cfg.shard} finished; when every shard has run: python preprocess.py ... mode=merge")
    return _finish(cfg, summary, start)


def _merge(store: ProcessedStore, table: pd.DataFrame) -> dict[str, Any]:
    assembly = store.assemble(table)
    store.write_outputs(assembly)
    manifest = assembly.manifest
    videos = manifest["video_id"].nunique() if len(manifest) else 0
    print(
        f"manifest: {store.root / MANIFEST} ({videos} videos, {len(manifest)} frames); "
        f"failures: {store.root / FAILURES} ({len(assembly.failures)} videos)"
    )
    if assembly.pending or assembly.stale:
        log.warning(
            "%d videos are not processed yet and %d were processed from another source file (e.g. %s); run "
            "preprocessing again (all shards) and merge.",
            len(assembly.pending),
            len(assembly.stale),
            (assembly.pending + assembly.stale)[0],
        )
    if manifest.empty:
        raise PreprocessError(f"No video gave a face crop; see {store.root / FAILURES}")
    if not assembly.pending and not assembly.stale:
        store.clean_tmp()
    return {
        "manifest_videos": int(videos),
        "manifest_frames": len(manifest),
        "failures": len(assembly.failures),
        "pending": len(assembly.pending),
        "stale": len(assembly.stale),
        "manifest": str(store.root / MANIFEST),
    }


def _counts(table: pd.DataFrame) -> dict[str, int]:
    counts = {"videos": len(table), "real": int((table["label"] == 0).sum()), "fake": int((table["label"] == 1).sum())}
    counts.update({f"videos_{s}": int((table["split"] == s).sum()) for s in ("train", "val", "test")})
    return counts


def _describe(table: pd.DataFrame) -> str:
    c = _counts(table)
    methods = ", ".join(f"{m} {n}" for m, n in table["method"].value_counts().sort_index().items())
    return (
        f"{c['videos']} videos (train {c['videos_train']}, val {c['videos_val']}, test {c['videos_test']}; "
        f"real {c['real']}, fake {c['fake']}; by method: {methods})"
    )


def _finish(cfg: DictConfig, summary: dict[str, Any], start: float) -> dict[str, Any]:
    summary["seconds"] = round(time.perf_counter() - start, 1)
    write_json(output_dir(cfg) / "summary.json", summary)
    return summary
