"""Worker processes that end with their parent, even when the parent is killed with SIGKILL.

A ``ProcessPoolExecutor`` worker whose parent dies without shutting the pool down (SIGKILL, the OOM killer) waits
on its call queue forever: it holds both ends of the queue's pipe, so it never reads end-of-file. Each such worker
keeps its models in memory (about 1.1 GB for preprocessing), and it keeps multiprocessing's resource tracker alive,
which exits only when every process holding its pipe has ended.
"""

from __future__ import annotations

import os
import threading
import time


def exit_with_parent(parent_pid: int, interval_s: float = 0.5) -> None:
    """Ends this process as soon as ``parent_pid`` is no longer its parent; call it in a worker's initializer.

    A daemon thread polls ``os.getppid()`` (a dead parent's orphans are re-parented to init or a subreaper) and calls
    ``os._exit`` (no cleanup handlers: the parent that would receive results is gone). Polling, rather than Linux's
    ``PR_SET_PDEATHSIG``, works on every POSIX system and does not fire when the parent's spawning thread, rather than
    the parent, ends.

    Args:
        parent_pid: the pid of the process that started this one (``os.getpid()`` there).
        interval_s: seconds between checks: how long a worker may outlive its parent.
    """
    if os.getppid() != parent_pid:  # the parent died before this worker got here
        os._exit(1)
    thread = threading.Thread(target=_watch, args=(parent_pid, interval_s), name="exit-with-parent", daemon=True)
    thread.start()


def _watch(parent_pid: int, interval_s: float) -> None:
    while os.getppid() == parent_pid:
        time.sleep(interval_s)
    os._exit(1)
