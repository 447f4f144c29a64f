"""Exporting a detector: every format is written under a temporary name, reloaded and checked against eager
PyTorch, and only when all pass are the files renamed into place (nothing half-written is ever left behind)."""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
from torch import nn

from dfdet.export.errors import ExportError
from dfdet.export.formats import (
    LOADERS,
    SUFFIXES,
    TORCHSCRIPT_EXPORTER,
    LogitNet,
    ModelInput,
    Runner,
    export_onnx,
    export_torchscript,
    load_onnx,
)
from dfdet.export.inputs import make_inputs, model_contract, verification_inputs
from dfdet.export.metadata import build_metadata
from dfdet.export.verify import eager_runner, seconds_per_batch, verify_runner
from dfdet.models.detector import DeepfakeDetector
from dfdet.utils.hashing import file_sha256

FORMATS = tuple(SUFFIXES)
TRACE_BATCH = 2  # batch size of the tracing example (not 1, so that no size-1 special case is traced in)
OPSETS = range(9, 21)  # what torch's TorchScript-based ONNX exporter supports (dynamo: checked by torch)


def parse_formats(value: str) -> tuple[str, ...]:
    """``onnx``, ``torchscript`` or ``all`` to the tuple of formats."""
    if value == "all":
        return FORMATS
    if value in FORMATS:
        return (value,)
    raise ExportError(f"format={value} is not one of: {', '.join(FORMATS)}, all")


def default_output_dir(checkpoint: str | os.PathLike) -> Path:
    """``<run>/exported`` for ``<run>/checkpoints/<name>.ckpt``; otherwise ``exported/`` beside the checkpoint."""
    parent = Path(checkpoint).parent
    return (parent.parent if parent.name == "checkpoints" else parent) / "exported"


@dataclass(frozen=True)
class ExportOptions:
    """How to export and check.

    Attributes:
        formats: any of ``onnx``, ``torchscript``.
        opset: ONNX opset version.
        dynamo: export ONNX with torch's torch.export-based exporter (needs ``onnxscript``) instead of the
            TorchScript-based one.
        verify: compare every artifact with eager PyTorch before writing it.
        atol: largest allowed absolute difference of the logits.
        batch_sizes: batch sizes of the verification inputs (each with random normal and rendered-face inputs).
        seed: seed of the tracing, verification and timing inputs.
        speed_batch_size: batch size of the speed comparison with eager PyTorch; None skips it.
        speed_seconds: time budget of each timed runtime (at least 3 runs after a warm-up).
    """

    formats: tuple[str, ...] = FORMATS
    opset: int = 17
    dynamo: bool = False
    verify: bool = True
    atol: float = 1e-4
    batch_sizes: Sequence[int] = field(default=(1, 3))
    seed: int = 0
    speed_batch_size: int | None = 8
    speed_seconds: float = 1.0

    def __post_init__(self) -> None:
        unknown = [f for f in self.formats if f not in FORMATS]
        if unknown or not self.formats:
            raise ExportError(f"Unknown export format(s) {unknown or '(none)'}; choose from {', '.join(FORMATS)}")
        if not self.dynamo and self.opset not in OPSETS:
            supported = f"{OPSETS[0]}..{OPSETS[-1]}"
            raise ExportError(f"opset={self.opset} is not supported by the ONNX exporter; choose {supported}")
        if not self.batch_sizes or any(int(b) < 1 for b in self.batch_sizes):
            raise ExportError(f"verify_batch_sizes must be positive integers, got {list(self.batch_sizes)}")
        if self.speed_batch_size is not None and self.speed_batch_size < 1:
            raise ExportError(f"speed.batch_size must be positive or null, got {self.speed_batch_size}")


class Staging:
    """Files written under hidden temporary names in ``folder``, renamed into place together by :meth:`commit`.

    On leaving the ``with`` block uncommitted (an error), the temporary files are removed, and so are the folders
    that entering the block created.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._pending: list[tuple[Path, Path]] = []
        self._created: list[Path] = []  # deepest first

    def __enter__(self) -> Staging:
        missing, path = [], self.folder.absolute()
        while not path.exists():
            missing.append(path)
            path = path.parent
        self.folder.mkdir(parents=True, exist_ok=True)
        self._created = missing
        return self

    def add(self, filename: str) -> Path:
        """A temporary path in the folder that :meth:`commit` renames to ``folder / filename``."""
        tmp = self.folder / f".{filename}.{uuid.uuid4().hex[:8]}.tmp"
        self._pending.append((tmp, self.folder / filename))
        return tmp

    def commit(self) -> list[Path]:
        """Renames every staged file to its final name; returns the final paths."""
        done = []
        for tmp, final in self._pending:
            os.replace(tmp, final)
            done.append(final)
        self._pending = []
        return done

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for tmp, _ in self._pending:
            tmp.unlink(missing_ok=True)
        self._pending = []
        if exc_type is not None:
            for folder in self._created:
                try:
                    folder.rmdir()
                except OSError:
                    break


def _write(
    fmt: str, module: nn.Module, example: ModelInput, path: Path, meta: dict[str, Any], options: ExportOptions
) -> None:
    if fmt == "onnx":
        spatial = meta.get("input_contract", {}).get("crop") == "whole"  # whole images of any size
        export_onnx(module, example, path, meta, opset=options.opset, dynamo=options.dynamo, spatial=spatial)
    else:
        export_torchscript(module, example, path, meta)


def _format_metadata(fmt: str, options: ExportOptions) -> dict[str, Any]:
    if fmt == "onnx":
        exporter = f"torch.onnx.export(dynamo={options.dynamo})"
        return {"format": "onnx", "exporter": exporter, "opset": options.opset}
    return {"format": "torchscript", "exporter": TORCHSCRIPT_EXPORTER}


def export_detector(
    model: DeepfakeDetector,
    config: Mapping[str, Any],
    output_dir: str | os.PathLike,
    name: str,
    options: ExportOptions,
    checkpoint: str | os.PathLike | None = None,
) -> dict[str, dict[str, Any]]:
    """Exports a trained :class:`~dfdet.models.DeepfakeDetector` in every requested format.

    Writes ``<output_dir>/<name>.onnx`` and/or ``<name>.torchscript``, each with a sidecar ``<file>.json`` holding
    the same metadata plus the file's sha256 and the verification results. Either every file is written or none.

    Args:
        model: the detector in eval mode (``net``, ``threshold`` buffer and ``hparams`` with the input layout).
        config: the resolved training config (hashed into the metadata).
        output_dir: destination folder (created if needed, removed again on failure).
        name: file base name.
        options: formats, opset and verification settings.
        checkpoint: the checkpoint the weights come from (its name and sha256 go into the metadata).

    Returns:
        Per format: ``path``, ``max_abs_diff`` (per verification input), and when timed ``seconds_per_batch``,
        ``eager_seconds_per_batch`` and ``speed_vs_eager`` (eager time / artifact time; > 1 is faster than eager).

    Raises:
        ExportError: an artifact does not match eager PyTorch within ``options.atol``.
    """
    spec = model_contract(model)
    source = "config" if getattr(model, "fixed_threshold", None) is not None else "validation"
    band = model.band() if hasattr(model, "band") else None  # calibration (dfdet.metrics.calibration)
    temperature = float(model.get_buffer("temperature")) if hasattr(model, "temperature") else 1.0
    base = build_metadata(config, spec, float(model.get_buffer("threshold")), source, checkpoint, temperature, band)
    base.setdefault("name", name)
    module = LogitNet.from_detector(model).eval()
    eager = eager_runner(model.eval())
    rng = np.random.default_rng(options.seed)
    example = make_inputs(spec, TRACE_BATCH, "normal", rng)
    inputs = verification_inputs(spec, options.batch_sizes, rng) if options.verify else {}
    timing = None if options.speed_batch_size is None else make_inputs(spec, options.speed_batch_size, "normal", rng)
    eager_s = None if timing is None else seconds_per_batch(eager, timing, options.speed_seconds)

    results: dict[str, dict[str, Any]] = {}
    with Staging(Path(output_dir)) as stage:
        for fmt in options.formats:
            filename = name + SUFFIXES[fmt]
            meta = {**base, **_format_metadata(fmt, options)}
            tmp = stage.add(filename)
            _write(fmt, module, example, tmp, meta, options)
            runner = LOADERS[fmt](tmp)
            diffs = verify_runner(eager, runner, inputs, options.atol, f"The {fmt} export")
            result: dict[str, Any] = {"path": str(Path(output_dir) / filename), "max_abs_diff": diffs}
            if timing is not None and eager_s is not None:
                seconds = seconds_per_batch(runner, timing, options.speed_seconds)
                result.update(seconds_per_batch=seconds, eager_seconds_per_batch=eager_s)
                result["speed_vs_eager"] = eager_s / seconds
            verification = {"atol": options.atol, "max_abs_diff": diffs} if options.verify else None
            sidecar = {**meta, "file": filename, "sha256": file_sha256(tmp), "verification": verification}
            stage.add(filename + ".json").write_text(json.dumps(sidecar, indent=2) + "\n")
            results[fmt] = result
        stage.commit()
    return results


def onnx_session(
    model: DeepfakeDetector,
    example: ModelInput,
    atol: float = 1e-4,
    spatial: bool = False,
    opset: int = 17,
    threads: int | None = None,
) -> Runner:
    """``model`` exported to ONNX and run by onnxruntime, for scoring many batches in-process (the perturbation
    sweep): the graph is written to a temporary file, loaded, checked against eager PyTorch on ``example`` and the
    file removed. The session keeps the graph in memory.

    Args:
        model: the detector in eval mode.
        example: a batch of the model's inputs (traced with, then compared).
        atol: largest allowed absolute difference of the logits on ``example``.
        spatial: dynamic height and width (whole-image models).
        opset: ONNX opset version.
        threads: onnxruntime's intra-op threads (None: one per physical core).

    Returns:
        A function from model inputs to (B,) logits.

    Raises:
        ExportError: the graph does not match eager PyTorch on ``example``.
    """
    module = LogitNet.from_detector(model).eval()
    with tempfile.TemporaryDirectory(prefix="dfdet-onnx-") as tmp:
        path = Path(tmp) / "model.onnx"
        export_onnx(module, example, path, {}, opset, spatial=spatial)
        runner = load_onnx(path, threads)
    verify_runner(eager_runner(model.eval()), runner, {"example": example}, atol, "The in-memory ONNX graph")
    return runner
