"""Sweeps: the summary written after a Hydra multirun."""

from dfdet.sweep.summary import SweepSummary, collect_runs

__all__ = ["SweepSummary", "collect_runs"]
