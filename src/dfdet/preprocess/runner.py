"""Running the preprocessor over a release: shard selection, resume, worker processes, progress and failures."""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import os
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import torch
from tqdm import tqdm

from dfdet.errors import DfdetError
from dfdet.preprocess.pipeline import NoFaceError, VideoPreprocessor
from dfdet.preprocess.store import ProcessedStore
from dfdet.preprocess.video import DecodeError
from dfdet.utils.orphans import exit_with_parent


class WorkerCrashError(DfdetError):
    """A worker process died (out of memory, or a crash inside a native library)."""


@dataclass(frozen=True)
class Job:
    """One video to process: its id, its path relative to the release root, and its absolute path."""

    video_id: str
    source: str
    path: str


@dataclass(frozen=True)
class Outcome:
    """What became of one job: ``done`` with ``crops`` crops (``partial`` when the video's data broke off before the
    last sampled frame), or ``failed`` with a ``reason``."""

    video_id: str
    status: str
    crops: int = 0
    reason: str = ""
    partial: bool = False


@dataclass
class RunStats:
    """Counts of one run over this shard's videos."""

    selected: int = 0  # videos of this shard
    skipped: int = 0  # already done (or failed) by an earlier run
    done: int = 0
    failed: int = 0
    crops: int = 0
    partial: int = 0  # done, but from the frames read before a truncated video's data broke off
    seconds: float = 0.0
    reasons: Counter = field(default_factory=Counter)

    def add(self, outcome: Outcome) -> None:
        if outcome.status == "done":
            self.done += 1
            self.crops += outcome.crops
            self.partial += outcome.partial
        else:
            self.failed += 1
            self.reasons[outcome.reason.split(" (", 1)[0]] += 1


def shard_of(video_id: str, num_shards: int) -> int:
    """The shard (0 .. num_shards-1) that processes ``video_id``: a stable hash, independent of the other videos."""
    return int(hashlib.sha1(video_id.encode()).hexdigest()[:8], 16) % num_shards


def select_jobs(
    table: pd.DataFrame,
    root: Path,
    store: ProcessedStore,
    shard: int = 0,
    num_shards: int = 1,
    limit: int | None = None,
    retry_failed: bool = False,
) -> tuple[list[Job], RunStats]:
    """This shard's videos that are not done yet (at most ``limit``), and stats with ``selected``/``skipped`` set."""
    if not 0 <= shard < num_shards:
        raise DfdetError(f"shard must be in 0..num_shards-1, got shard={shard} num_shards={num_shards}")
    stats = RunStats()
    jobs: list[Job] = []
    for row in table.itertuples(index=False):
        if shard_of(row.video_id, num_shards) != shard:
            continue
        stats.selected += 1
        if store.is_done(row.video_id, retry_failed):
            stats.skipped += 1
        elif limit is None or len(jobs) < limit:
            jobs.append(Job(row.video_id, row.source, str(root / row.source)))
    return jobs, stats


def run_jobs(
    jobs: list[Job],
    preprocessor: VideoPreprocessor,
    store: ProcessedStore,
    stats: RunStats,
    workers: int = 1,
    torch_threads: int = 1,
    progress: bool = True,
) -> RunStats:
    """Processes ``jobs``; failures are recorded and the run goes on. ``workers`` > 1 uses that many processes.

    Raises:
        WorkerCrashError: a worker process died; finished videos are kept, a re-run resumes.
    """
    start = time.perf_counter()
    bar = tqdm(total=len(jobs), unit="video", disable=not progress, file=sys.stderr, dynamic_ncols=True)
    try:
        if workers <= 1:
            outcomes = _in_process(jobs, preprocessor, store, torch_threads)
        else:
            outcomes = _in_pool(jobs, preprocessor, store, workers, torch_threads)
        for outcome in outcomes:
            stats.add(outcome)
            bar.update(1)
            bar.set_postfix(failed=stats.failed, crops=stats.crops, refresh=False)
    finally:
        bar.close()
        stats.seconds = time.perf_counter() - start
    return stats


_WORKER: dict[str, object] = {}


def _init_worker(
    preprocessor: VideoPreprocessor, store: ProcessedStore, torch_threads: int, parent_pid: int | None = None
) -> None:
    """Sets up a worker (or the main process, ``parent_pid`` None); a worker ends when ``parent_pid`` dies."""
    if parent_pid is not None:
        exit_with_parent(parent_pid)
    torch.set_num_threads(torch_threads)
    _WORKER.update(preprocessor=preprocessor, store=store)


def _process(job: Job) -> Outcome:
    """Processes one job in a worker (or the main process); decoding problems and faceless videos are recorded."""
    preprocessor: VideoPreprocessor = _WORKER["preprocessor"]  # type: ignore[assignment]
    store: ProcessedStore = _WORKER["store"]  # type: ignore[assignment]
    try:
        faces = preprocessor(job.path)
    except (DecodeError, NoFaceError) as exc:
        reason = f"no face: {exc}" if isinstance(exc, NoFaceError) else str(exc)
        store.write_failure(job.video_id, job.source, reason)
        return Outcome(job.video_id, "failed", reason=reason)
    crops = store.write_video(job.video_id, job.source, faces)
    return Outcome(job.video_id, "done", crops=crops, partial=faces.partial)


def _in_process(
    jobs: Iterable[Job], preprocessor: VideoPreprocessor, store: ProcessedStore, torch_threads: int
) -> Iterator[Outcome]:
    previous = torch.get_num_threads()
    _init_worker(preprocessor, store, torch_threads)
    try:
        for job in jobs:
            yield _process(job)
    finally:
        torch.set_num_threads(previous)
        _WORKER.clear()


def _in_pool(
    jobs: list[Job], preprocessor: VideoPreprocessor, store: ProcessedStore, workers: int, torch_threads: int
) -> Iterator[Outcome]:
    """Runs jobs in ``workers`` spawned processes, keeping at most two jobs per worker in flight."""
    todo = iter(jobs)
    running: dict[Future, Job] = {}
    context = mp.get_context("spawn")  # no fork: torch's thread pools do not survive it
    init_args = (preprocessor, store, torch_threads, os.getpid())
    with ProcessPoolExecutor(workers, context, _init_worker, init_args) as pool:
        try:
            while True:
                while len(running) < 2 * workers and (job := next(todo, None)) is not None:
                    running[pool.submit(_process, job)] = job
                if not running:
                    return
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    running.pop(future)
                    yield future.result()
        except BrokenProcessPool as exc:
            ids = ", ".join(sorted(j.video_id for j in running.values()))
            raise WorkerCrashError(
                f"A preprocessing worker died (out of memory, or a crash in the video decoder) while processing one "
                f"of: {ids}. Finished videos are kept; re-run the same command to resume."
            ) from exc
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
