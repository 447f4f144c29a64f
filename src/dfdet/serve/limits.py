"""Server limits, and bounded concurrency: uploads are received under their own bound, then fully received files
wait for a fixed number of prediction threads behind a bounded queue."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class ServeSettings:
    """Limits of the HTTP API.

    Attributes:
        max_upload_bytes: largest accepted file (413 beyond, enforced while the body streams in).
        max_uploads: uploads received at the same time, outside the prediction slots; 503 beyond.
        header_timeout_s: time for a request line and its headers to arrive, also for the next request on a
            kept-alive connection (the rest of an unread body included); the connection is closed beyond.
        upload_timeout_s: time to receive one upload, from its headers to its last byte; 408 beyond.
        min_upload_rate: bytes per second an upload must average once ``upload_grace_s`` has passed; 408 below.
        upload_grace_s: seconds before the minimum rate applies.
        request_timeout_s: time limit from the fully received upload to the answer (queue and prediction); 504 beyond.
        workers: predictions that run at the same time (threads).
        queue_size: fully received files that may wait beyond those running; 503 beyond.
        upload_dir: folder of the temporary upload files; None: the system's temporary folder.
        retry_after_s: the ``Retry-After`` header of 503 answers.
    """

    max_upload_bytes: int = 64 * 1024 * 1024
    max_uploads: int = 32
    header_timeout_s: float = 10.0
    upload_timeout_s: float = 120.0
    min_upload_rate: float = 32 * 1024
    upload_grace_s: float = 5.0
    request_timeout_s: float = 60.0
    workers: int = 1
    queue_size: int = 8
    upload_dir: str | None = None
    retry_after_s: int = 1

    def __post_init__(self) -> None:
        counts = min(self.workers, self.max_uploads, self.max_upload_bytes) >= 1 and self.queue_size >= 0
        times = min(self.header_timeout_s, self.upload_timeout_s, self.request_timeout_s) > 0
        if not (counts and times and self.min_upload_rate >= 0 and self.upload_grace_s >= 0):
            raise ValueError(
                "serve limits must be positive: workers, max_uploads, max_upload_bytes >= 1, queue_size >= 0, "
                "header_timeout_s, upload_timeout_s, request_timeout_s > 0, min_upload_rate, upload_grace_s >= 0"
            )

    def folder(self) -> Path:
        """The upload folder (created if needed)."""
        import tempfile

        path = Path(self.upload_dir) if self.upload_dir else Path(tempfile.gettempdir())
        path.mkdir(parents=True, exist_ok=True)
        return path


class Slots:
    """A bound that never waits: :meth:`try_acquire` takes a slot or says there is none.

    Args:
        capacity: slots.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._held = 0
        self._lock = threading.Lock()

    @property
    def held(self) -> int:
        """Slots taken."""
        return self._held

    def try_acquire(self) -> bool:
        """Takes a slot when one is free."""
        with self._lock:
            if self._held >= self.capacity:
                return False
            self._held += 1
            return True

    def release(self) -> None:
        """Frees a slot."""
        with self._lock:
            self._held -= 1


class Admission(Slots):
    """At most ``workers`` jobs run and ``queue_size`` more wait; a job holds its slot from admission until it has
    finished, even when its request has already been answered (a timed-out job keeps running: Python threads cannot
    be stopped), so the CPU is never oversubscribed. Only fully received files are admitted.

    Args:
        workers: prediction threads.
        queue_size: additional admitted jobs.
    """

    def __init__(self, workers: int, queue_size: int) -> None:
        super().__init__(workers + queue_size)
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dfdet-predict")

    def submit(self, fn: Callable[..., T], *args: Any, cleanup: Callable[[], None] | None = None) -> Future[T]:
        """Runs ``fn(*args)`` on a prediction thread; when it ends (or is cancelled before starting), ``cleanup``
        runs and the slot is released."""
        future = self.executor.submit(fn, *args)

        def done(_: Future[T]) -> None:
            try:
                if cleanup is not None:
                    cleanup()
            finally:
                self.release()

        future.add_done_callback(done)
        return future

    def shutdown(self) -> None:
        """Stops the threads after the running jobs; queued ones are cancelled."""
        self.executor.shutdown(wait=False, cancel_futures=True)
