"""The cross-dataset benchmark table: one row per test set (metrics and the protocol behind them), plus the mean of
the sets that ran, written as Markdown, CSV, JSON and a bar chart (see :mod:`dfdet.tasks.benchmark`)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console
from rich.table import Table

from dfdet.utils.runinfo import run_info, write_json

# metric key of evaluate (without the split) -> column title
METRICS = {
    "auc": "frame AUC",
    "video_auc": "video AUC",
    "eer": "frame EER",
    "video_eer": "video EER",
    "ap": "frame AP",
    "video_ap": "video AP",
    "acc": "frame acc",
    "video_acc": "video acc",
}
# protocol key -> column title (the Markdown table shows them all beside the numbers)
PROTOCOL = {
    "pipeline": "data",
    "frames_per_video": "frames/video",
    "detector": "face detector",
    "margin": "margin",
    "crop_size": "crop",
    "input": "model input",
    "video_aggregation": "video score",
    "threshold": "threshold",
    "threshold_source": "threshold from",
    "videos": "videos",
    "frames": "frames",
}

COUNTS = ("frames_per_video", "crop_size", "videos", "frames")  # protocol columns holding whole numbers
NOTE = (
    "Frame metrics score every sampled crop; video metrics score each video's aggregated score (the `video score` "
    "column); EER and AUC need no threshold, accuracy is taken at `threshold`. Intervals: 95 % bootstrap over "
    "videos (speakers for audio); * marks a set with fewer than 20 videos of a class."
)
POOLED_NOTE = (
    "Pooled: the EER of every set's scores together, at one threshold (as Speech DF Arena reports beside the average "
    "EER): a detector whose scores mean the same on every set is not penalised, one that needs a threshold per set is."
)
# metric with a bootstrap interval in evaluate's metrics (``<key>_ci_low`` / ``_high``, videos resampled) -> title
INTERVALS = {"video_auc": "video AUC 95% CI", "video_eer": "video EER 95% CI"}


@dataclass
class SetResult:
    """One test set's outcome.

    Args:
        name: the data config name (``ffpp``, ``synthetic``, ...).
        status: ``ok`` or ``skipped``.
        reason: why it was skipped (one line), else empty.
        metrics: evaluate's metrics without the split prefix (``auc``, ``video_auc``, ``eer``, ...).
        protocol: how the numbers were made (see :data:`PROTOCOL`).
    """

    name: str
    status: str
    reason: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    protocol: dict[str, Any] = field(default_factory=dict)


def mean_metrics(results: list[SetResult]) -> dict[str, float]:
    """Each :data:`METRICS` value averaged over the sets that ran (NaN values, e.g. a one-class set, left out)."""
    ran = [r for r in results if r.status == "ok"]
    out = {}
    for key in METRICS:
        values = [r.metrics[key] for r in ran if key in r.metrics and not math.isnan(r.metrics[key])]
        out[key] = sum(values) / len(values) if values else math.nan
    return out


def benchmark_frame(
    results: list[SetResult], mean: dict[str, float], pooled: dict[str, Any] | None = None
) -> pd.DataFrame:
    """One row per test set (skipped ones with their reason), a ``mean`` row and, given ``pooled``, a ``pooled`` row
    (its ``eer`` and ``video_eer``): ``test_set``, ``status``, ``reason``, the :data:`METRICS` keys, then the
    :data:`PROTOCOL` keys."""
    rows = []
    for r in results:
        metrics = {k: r.metrics.get(k, math.nan) for k in METRICS}
        row = {"test_set": r.name, "status": r.status, "reason": r.reason, **metrics, **_intervals(r)}
        rows.append({**row, **_protocol(r)})
    ran = sum(r.status == "ok" for r in results)
    rows.append({"test_set": "mean", "status": "mean", "reason": f"mean of the {ran} set(s) that ran", **mean})
    if pooled:
        reason = f"one threshold over the scores of {', '.join(pooled['sets'])}"
        rows.append({"test_set": "pooled", "status": "pooled", "reason": reason, "eer": pooled["eer"],
                     "video_eer": pooled["video_eer"]})  # fmt: skip
    bounds = [f"{k}_ci_{side}" for k in INTERVALS for side in ("low", "high")]
    columns = ["test_set", "status", "reason", *METRICS, *bounds, "small_test_set", *PROTOCOL]
    frame = pd.DataFrame(rows, columns=columns)
    for column in COUNTS:  # whole numbers stay whole beside the empty cells of skipped sets and the mean
        if all(r.protocol.get(column) is None or isinstance(r.protocol[column], int) for r in results):
            frame[column] = frame[column].astype("Int64")
    return frame


def _protocol(result: SetResult) -> dict[str, Any]:
    return {k: result.protocol.get(k) for k in PROTOCOL}


def _intervals(result: SetResult) -> dict[str, Any]:
    """The bootstrap bounds of :data:`INTERVALS` and the small-test-set flag, as evaluate reported them."""
    out: dict[str, Any] = {}
    for key in INTERVALS:
        out[f"{key}_ci_low"] = result.metrics.get(f"{key}_ci_low", math.nan)
        out[f"{key}_ci_high"] = result.metrics.get(f"{key}_ci_high", math.nan)
    flag = result.metrics.get("small_test_set")
    out["small_test_set"] = None if flag is None else bool(flag)
    return out


def _interval_cells(result: SetResult) -> list[str]:
    """``[low, high]`` of each :data:`INTERVALS` metric (``*`` after it: fewer than 20 videos of a class)."""
    bounds = _intervals(result)
    small = " *" if bounds["small_test_set"] else ""
    cells = []
    for key in INTERVALS:
        low, high = bounds[f"{key}_ci_low"], bounds[f"{key}_ci_high"]
        cells.append("–" if math.isnan(low) else f"[{low:.3f}, {high:.3f}]{small}")
    return cells


def _cells(result: SetResult, protocol: tuple[str, ...] | dict[str, str] = PROTOCOL) -> list[str]:
    """A set's row: its name, its metrics, their bootstrap intervals, the ``protocol`` columns."""
    metrics = (_cell(result.metrics.get(k)) for k in METRICS)
    protocol_cells = (_cell(result.protocol.get(k), digits="4g") for k in protocol)
    return [result.name, *metrics, *_interval_cells(result), *protocol_cells]


def _cell(value: Any, digits: str = "4f") -> str:
    """A table cell: metrics with 4 decimals, protocol numbers with 4 significant digits, ``–`` for none."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}}"
    return str(value).replace("|", "/")


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def markdown(
    results: list[SetResult], mean: dict[str, float], checkpoint: str, split: str, pooled: dict[str, Any] | None = None
) -> str:
    """The Markdown report: the table (sets that ran, the mean, and the pooled EER when given) and the skipped sets
    with their reasons."""
    titles = ["test set", *METRICS.values(), *INTERVALS.values(), *PROTOCOL.values()]
    align = ["---"] + ["---:"] * (len(METRICS) + len(INTERVALS)) + ["---"] * len(PROTOCOL)
    lines = [f"# Benchmark: {checkpoint} ({split} split of each set)", "", _row(titles), _row(align)]
    lines += [_row(_cells(r)) for r in results if r.status == "ok"]
    ran = sum(r.status == "ok" for r in results)
    mean_cells = [f"**mean** ({ran} set{'s' if ran != 1 else ''})", *(_cell(mean[k]) for k in METRICS)]
    lines.append(_row(mean_cells + [""] * (len(INTERVALS) + len(PROTOCOL))))
    if pooled:
        title = f"**pooled** (one threshold, {len(pooled['sets'])} sets)"
        cells = [_cell(pooled[k]) if k in ("eer", "video_eer") else "" for k in METRICS]
        lines.append(_row([title, *cells] + [""] * (len(INTERVALS) + len(PROTOCOL))))
    skipped = [r for r in results if r.status != "ok"]
    if skipped:
        lines += ["", "Skipped:", ""] + [f"- **{r.name}**: {r.reason}" for r in skipped]
    lines += ["", NOTE]
    if pooled:
        lines += ["", POOLED_NOTE]
    return "\n".join(lines) + "\n"


def save_bar_chart(results: list[SetResult], mean: dict[str, float], path: Path, title: str = "") -> Path:
    """Frame and video AUC of each set that ran, and their mean, as grouped bars (skipped sets named below)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    ran = [r for r in results if r.status == "ok"]
    names = [r.name for r in ran] + (["mean"] if ran else [])
    frame = [r.metrics.get("auc", math.nan) for r in ran] + ([mean["auc"]] if ran else [])
    video = [r.metrics.get("video_auc", math.nan) for r in ran] + ([mean["video_auc"]] if ran else [])
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(max(4.0, 1.2 * len(names) + 2), 4))
    ax.bar(x - 0.2, frame, 0.4, label="frame AUC", color="tab:blue")
    ax.bar(x + 0.2, video, 0.4, label="video AUC", color="tab:orange")
    ax.axhline(0.5, color="k", ls=":", lw=0.8)
    ax.set_xticks(x, names)
    ax.set(ylim=(0, 1.2), ylabel="AUC", title=title or "benchmark")
    skipped = [r.name for r in results if r.status != "ok"]
    if skipped:
        ax.set_xlabel(f"skipped: {', '.join(skipped)}")
    if not ran:
        ax.text(0.5, 0.5, "no test set ran", ha="center", va="center", transform=ax.transAxes)
    ax.legend(loc="upper right", ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_benchmark(
    results: list[SetResult], out: Path, checkpoint: str, split: str, pooled: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Writes ``benchmark.md``, ``benchmark.csv``, ``benchmark.json`` and ``benchmark.png`` into ``out``.

    Args:
        pooled: ``eer``, ``video_eer`` and ``sets`` of the EER over several sets at one threshold (see
            :func:`pooled_eers`); None: none.

    Returns:
        The JSON payload: ``checkpoint``, ``split``, ``sets`` (each :class:`SetResult` as a dict), ``mean``,
        ``pooled`` (or None), ``ran`` and ``skipped`` (names), ``run_info``.
    """
    mean = mean_metrics(results)
    (out / "benchmark.md").write_text(markdown(results, mean, checkpoint, split, pooled))
    benchmark_frame(results, mean, pooled).to_csv(out / "benchmark.csv", index=False)
    report = {
        "checkpoint": checkpoint,
        "split": split,
        "sets": [asdict(r) for r in results],
        "mean": mean,
        "pooled": pooled,
        "ran": [r.name for r in results if r.status == "ok"],
        "skipped": [r.name for r in results if r.status != "ok"],
        "run_info": run_info(),
    }
    write_json(out / "benchmark.json", report)
    save_bar_chart(results, mean, out / "benchmark.png", title=f"{Path(checkpoint).name} ({split})")
    return report


def print_benchmark(
    results: list[SetResult], mean: dict[str, float], title: str = "benchmark", pooled: dict[str, Any] | None = None
) -> None:
    """Prints the table (metrics and the main protocol columns, the mean and the pooled EERs) and the skipped sets."""
    table = Table(title=title)
    shown = ("frames_per_video", "margin", "video_aggregation", "threshold")
    for name in ["test set", *METRICS.values(), *INTERVALS.values(), *(PROTOCOL[k] for k in shown)]:
        table.add_column(name, justify="left" if name == "test set" else "right", no_wrap=name == "test set")
    for r in results:
        if r.status == "ok":
            table.add_row(*_cells(r, shown))
    table.add_row("mean", *(_cell(mean[k]) for k in METRICS), *([""] * (len(INTERVALS) + len(shown))))
    if pooled:
        cells = [_cell(pooled[k]) if k in ("eer", "video_eer") else "" for k in METRICS]
        table.add_row("pooled", *cells, *([""] * (len(INTERVALS) + len(shown))))
    console = Console(width=200)
    console.print(table)
    for r in results:
        if r.status != "ok":
            console.print(f"skipped {r.name}: {r.reason}", highlight=False, soft_wrap=True)


def pooled_eers(tables: dict[str, pd.DataFrame], aggregation: str = "mean", top_k: int = 5) -> dict[str, Any] | None:
    """The EER of several sets' scores together, at one threshold: ``eer`` over every scored row (utterances for
    audio, frames for faces) and ``video_eer`` over videos (their scores aggregated as evaluated); None for fewer than
    two sets.

    Args:
        tables: each set's ``predictions.csv`` (``video``, ``label``, ``score``), by set name.
    """
    from dfdet.metrics.report import video_table
    from dfdet.metrics.spoofing import pooled_eer

    if len(tables) < 2:
        return None
    rows = [(t["score"].to_numpy(), t["label"].to_numpy()) for t in tables.values()]
    videos = [video_table(t, aggregation, top_k) for t in tables.values()]
    return {
        "eer": pooled_eer(rows, official=False),
        "video_eer": pooled_eer([(v["score"].to_numpy(), v["label"].to_numpy()) for v in videos], official=False),
        "sets": list(tables),
    }
