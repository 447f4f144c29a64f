"""Printing metric tables."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table


def metric_table(metrics: dict[str, float], title: str = "Metrics") -> Table:
    """A table with one row per metric name and one column per stage (``val/auc`` -> row auc, column val)."""
    stages: list[str] = []
    rows: dict[str, dict[str, float]] = {}
    for key, value in metrics.items():
        stage, _, name = key.partition("/")
        if not name:
            stage, name = "", key
        if stage not in stages:
            stages.append(stage)
        rows.setdefault(name, {})[stage] = value
    table = Table(title=title)
    table.add_column("metric")
    for stage in stages:
        table.add_column(stage or "value", justify="right")
    for name, values in rows.items():
        table.add_row(name, *(f"{values[s]:.4f}" if s in values else "" for s in stages))
    return table


def print_metrics(metrics: dict[str, float], title: str = "Metrics") -> None:
    """Prints :func:`metric_table` to stdout."""
    Console(width=100).print(metric_table(metrics, title))
