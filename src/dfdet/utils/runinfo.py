"""What a run records about itself: git commit, package versions, the resolved config, metrics."""

from __future__ import annotations

import json
import math
import platform
import subprocess
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from dfdet.utils.hashing import file_sha256

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
        return v

    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(clean(payload), indent=2, sort_keys=True))
    tmp.replace(path)


def manifest_hash(datamodule: Any) -> str | None:
    """sha256 of the datamodule's manifest file (``datamodule.source.manifest_path()``), or None without one."""
    source = getattr(datamodule, "source", None)
    if source is None or not hasattr(source, "manifest_path"):
        return None
    path = Path(source.manifest_path())
    if not path.is_file():
        return None
    return file_sha256(path)
