"""Build-once cache folders, written atomically (temporary folder renamed into place)."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path


def build_once(final: Path, build: Callable[[Path], int], what: str) -> Path:
    """Returns ``final/manifest.parquet``, calling ``build(tmp_folder) -> item count`` first when it is missing.

    The folder is built under a temporary name and renamed into place, so an interrupted build leaves nothing that
    looks finished; when two processes race, the first rename wins and the other copy is discarded.
    """
    final = final.expanduser().resolve()
    manifest = final / "manifest.parquet"
    if manifest.is_file():
        return manifest
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.parent / f".{final.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    start = time.perf_counter()
    count = build(tmp)
    try:
        os.replace(tmp, final)
    except OSError:  # another process finished first; keep its copy
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"Generated {what} ({count} items) in {time.perf_counter() - start:.1f}s at {final}")
    return manifest
