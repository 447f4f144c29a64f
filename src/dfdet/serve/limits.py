"""Server limits, and bounded concurrency: a fixed number of prediction threads behind a bounded queue."""

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
        request_timeout_s: time limit of a request, from its arrival (upload, queue and prediction); 504 beyond.
        workers: predictions that run at the same time (threads).
        queue_size: requests that may wait (uploading or queued) beyond those running; 503 beyond.
        upload_dir: folder of the temporary upload files; None: the system's temporary folder.
        retry_after_s: the ``Retry-After`` header of 503 answers.
    """

    max_upload_bytes: int = 64 * 1024 * 1024
    request_timeout_s: float = 60.0
    workers: int = 1
    queue_size: int = 8
    upload_dir: str | None = None
    retry_after_s: int = 1

    def __post_init__(self) -> None:
        if self.workers < 1 or self.queue_size < 0 or self.max_upload_bytes < 1 or self.request_timeout_s <= 0:
            raise ValueError(
                "serve limits must be positive: workers >= 1, queue_size >= 0, max_upload_bytes >= 1, "
                "request_timeout_s > 0"
            )

    def folder(self) -> Path:
        """The upload folder (created if needed)."""
        import tempfile

        path = Path(self.upload_dir) if self.upload_dir else Path(tempfile.gettempdir())
        path.mkdir(parents=True, exist_ok=True)
        return path


class Admission:
    """At most ``workers`` jobs run and ``queue_size`` more wait; a request holds its slot from admission until its
    job has finished, even when the request itself has already been answered (a timed-out job keeps running: Python
    threads cannot be stopped), so the CPU is never oversubscribed.

    Args:
        workers: prediction threads.
        queue_size: additional admitted requests.
    """

    def __init__(self, workers: int, queue_size: int) -> None:
        self.capacity = workers + queue_size
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dfdet-predict")
        self._held = 0
        self._lock = threading.Lock()

    @property
    def held(self) -> int:
        """Admitted requests whose jobs have not finished."""
        return self._held

    def try_acquire(self) -> bool:
        """Admits a request when a slot is free."""
        with self._lock:
            if self._held >= self.capacity:
                return False
            self._held += 1
            return True

    def release(self) -> None:
        """Frees a slot."""
        with self._lock:
            self._held -= 1

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
