"""Checking an exported artifact against eager PyTorch, and timing it."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from dfdet.export.errors import ExportError
from dfdet.export.formats import Runner


def eager_runner(model: nn.Module) -> Runner:
    """``model`` (eval mode) as a tensor-to-tensor function under ``torch.inference_mode``."""

    def run(x: Any) -> torch.Tensor:
        with torch.inference_mode():
            return model(x)

    return run


def max_abs_diff(expected: torch.Tensor, actual: torch.Tensor) -> float:
    """Largest absolute difference; ``inf`` when shapes differ or ``actual`` has a non-finite value that
    ``expected`` has not.

    Args:
        expected: (B,) reference logits.
        actual: (B,) logits to check.
    """
    expected, actual = expected.detach().float().cpu(), actual.detach().float().cpu()
    if expected.shape != actual.shape:
        return float("inf")
    if not torch.equal(torch.isfinite(expected), torch.isfinite(actual)):
        return float("inf")
    finite = torch.isfinite(expected)
    if not finite.any():
        return 0.0
    return float((expected[finite] - actual[finite]).abs().max())


def verify_runner(
    reference: Runner, candidate: Runner, inputs: Mapping[str, Any], atol: float, label: str
) -> dict[str, float]:
    """Runs both functions on every input and checks that the outputs agree.

    Args:
        reference: eager PyTorch.
        candidate: the reloaded artifact.
        inputs: named input batches.
        atol: largest allowed absolute difference of the logits.
        label: names the artifact in the error message.

    Returns:
        The max absolute difference per input name.

    Raises:
        ExportError: a difference above ``atol``, a shape mismatch or a non-finite output.
    """
    diffs: dict[str, float] = {}
    for name, x in inputs.items():
        expected, actual = reference(x), candidate(x)
        if not torch.isfinite(expected).all():
            raise ExportError(f"Eager PyTorch gives non-finite logits on '{name}' inputs; cannot verify {label}")
        diffs[name] = diff = max_abs_diff(expected, actual)
        if not diff <= atol:
            shapes = f"shape {tuple(actual.shape)} vs {tuple(expected.shape)}"
            raise ExportError(
                f"{label} does not match eager PyTorch on '{name}' inputs: max |diff| {diff:.3g} > atol {atol:g} "
                f"({shapes}); nothing was written"
            )
    return diffs


def seconds_per_batch(runner: Runner, x: Any, budget_s: float = 1.0, min_runs: int = 3, warmup: int = 2) -> float:
    """Wall time of ``runner(x)``: the fastest of at least ``min_runs`` runs (more while ``budget_s`` seconds last)
    after ``warmup`` calls (TorchScript optimises its graph during the first two).

    The minimum, as ``timeit`` advises: slower runs measure interference by other processes, not the runtime.
    """
    for _ in range(warmup):
        runner(x)
    best = float("inf")
    runs, start = 0, time.perf_counter()
    while runs < min_runs or time.perf_counter() - start < budget_s:
        t0 = time.perf_counter()
        runner(x)
        best = min(best, time.perf_counter() - t0)
        runs += 1
    return best
