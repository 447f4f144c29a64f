"""What a run records about itself: git commit, package versions, the resolved config, metrics."""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

PACKAGES = (
    "dfdet",
    "torch",
    "torchvision",
    "lightning",
    "timm",
    "torchmetrics",
    "hydra-core",
    "albumentations",
    "facenet-pytorch",
    "onnx",
    "onnxruntime",
    "numpy",
    "wandb",
)


def git_commit(cwd: str | Path | None = None) -> str | None:
    """The current git commit (with ``-dirty`` when the tree has changes), or None outside a repository."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{sha}-dirty" if dirty else sha


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages a result depends on."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def run_info() -> dict[str, Any]:
    """Provenance of a run: git commit, package versions, host."""
    return {"git_commit": git_commit(Path(__file__).parent), "packages": package_versions(), "host": platform.node()}


def to_float_dict(metrics: dict[str, Any]) -> dict[str, float]:
    """Tensors and numbers to plain floats (NaN kept as NaN), keys sorted."""
    out = {}
    for key in sorted(metrics):
        value = metrics[key]
        out[key] = float(value.item() if hasattr(value, "item") else value)
    return out


def write_json(path: str | Path, payload: dict[str, Any]) -> None:
    """Writes JSON atomically (temp file + rename); NaN becomes null."""

    def clean(v: Any) -> Any:
        if isinstance(v, float) and math.isnan(v):
            return None
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items()}
        if isinstance(v, list | tuple):
            return [clean(x) for x in v]
        return v

    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(clean(payload), indent=2, sort_keys=True))
    tmp.replace(path)


FINGERPRINT_COLUMNS = ("path", "label", "split")


def manifest_fingerprint(manifest: pd.DataFrame) -> str:
    """sha256 of what a manifest says the data is: each row's file path, label and split.

    Paths are taken relative to the deepest folder holding every file, and rows are sorted, so the fingerprint does
    not depend on where the dataset lives, on row order or on other columns; it changes when a file, a label or a
    split does. File contents are not read.

    Args:
        manifest: a table with ``path``, ``label`` (0 = real or bona fide, 1 = fake or spoof) and ``split`` columns,
            one row per frame crop or utterance.

    Returns:
        64 hex digits.

    Example:
        >>> import pandas as pd
        >>> rows = {"path": ["/a/x/1.png", "/a/y/2.png"], "label": [0, 1], "split": ["train", "test"]}
        >>> moved = {"path": ["/b/y/2.png", "/b/x/1.png"], "label": [1, 0], "split": ["test", "train"]}
        >>> manifest_fingerprint(pd.DataFrame(rows)) == manifest_fingerprint(pd.DataFrame(moved))
        True
        >>> manifest_fingerprint(pd.DataFrame({**rows, "label": [1, 1]})) == manifest_fingerprint(pd.DataFrame(rows))
        False
    """
    missing = [c for c in FINGERPRINT_COLUMNS if c not in manifest.columns]
    if missing:
        raise ValueError(f"a manifest needs the columns {FINGERPRINT_COLUMNS} for a fingerprint, missing {missing}")
    paths = [os.path.abspath(p) for p in manifest["path"].astype(str)]
    root = os.path.commonpath([os.path.dirname(p) for p in paths]) if paths else ""
    relative = [Path(os.path.relpath(p, root)).as_posix() for p in paths]
    labels = [int(x) for x in manifest["label"]]
    rows = sorted(zip(relative, labels, manifest["split"].astype(str), strict=True))
    digest = hashlib.sha256()
    for row in rows:
        digest.update(("\t".join(map(str, row)) + "\n").encode())
    return digest.hexdigest()


def data_fingerprint(datamodule: Any) -> str | None:
    """:func:`manifest_fingerprint` of ``datamodule.manifest`` (face and audio datamodules alike).

    The datamodule is set up first when its manifest is not loaded yet (``setup`` is idempotent in both).

    Returns:
        64 hex digits, or None for a datamodule without a ``manifest`` attribute.
    """
    if not hasattr(datamodule, "manifest"):
        return None
    if datamodule.manifest is None:
        datamodule.setup()
    return manifest_fingerprint(datamodule.manifest)
