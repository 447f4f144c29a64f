"""What a perturbation sweep writes: a table (CSV and Markdown) of AUC/EER per distortion and level, the mean over
all settings, one curve per distortion, and the entry of ``metrics.json``."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from dfdet.metrics.bootstrap import small_test_set
from dfdet.perturb.registry import DISTORTIONS
from dfdet.perturb.sweep import SweepResult


def sweep_frame(result: SweepResult) -> pd.DataFrame:
    """One row per setting (the clean one first): distortion, level, param, auc, eer, acc, their intervals, counts."""
    rows = []
    for row in result.rows:
        flat = {k: v for k, v in row.items() if not k.endswith("_ci")}
        for key, value in row.items():
            if key.endswith("_ci") and value is not None:
                flat[f"{key}_low"], flat[f"{key}_high"] = value
        rows.append(flat)
    return pd.DataFrame(rows)


def _mean(values: list[Any]) -> float | None:
    kept = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    return sum(kept) / len(kept) if kept else None


def sweep_summary(result: SweepResult) -> dict[str, Any]:
    """``clean`` (its scores), ``mean_auc``/``mean_eer`` over every distortion setting, ``worst`` (the setting of
    the lowest AUC), ``per_distortion`` (mean AUC/EER of each distortion's levels), ``settings`` (every row) and
    ``small_test_set`` (fewer than :data:`~dfdet.metrics.bootstrap.MIN_PER_CLASS` videos of a class)."""
    clean = result.rows[0]
    perturbed = result.rows[1:]
    per: dict[str, dict[str, float | None]] = {}
    for name in dict.fromkeys(r["distortion"] for r in perturbed):
        mine = [r for r in perturbed if r["distortion"] == name]
        per[name] = {"mean_auc": _mean([r["auc"] for r in mine]), "mean_eer": _mean([r["eer"] for r in mine])}
    aucs = [r for r in perturbed if r["auc"] is not None]
    worst = min(aucs, key=lambda r: r["auc"]) if aucs else None
    return {
        "clean": clean,
        "mean_auc": _mean([r["auc"] for r in perturbed]),
        "mean_eer": _mean([r["eer"] for r in perturbed]),
        "settings_count": len(perturbed),
        "worst": None if worst is None else f"{worst['distortion']}/{worst['level']}",
        "per_distortion": per,
        "settings": perturbed,
        "seconds": result.seconds,
        "small_test_set": small_test_set(clean.get("real", 0), clean.get("fake", 0)) is not None,
    }


def _cell(value: Any, ci: Any = None) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    text = f"{value:.4f}" if isinstance(value, float) else str(value)
    if ci:
        text += f" [{ci[0]:.3f}, {ci[1]:.3f}]"
    return text


def markdown_table(result: SweepResult, title: str = "") -> str:
    """The sweep as a Markdown table (with the 95 % bootstrap intervals when computed) and its mean line."""
    summary = sweep_summary(result)
    lines = [f"# Robustness: {title}".rstrip(": "), "",
             "| distortion | level | parameter | AUC | EER | acc |", "|---|---|---|---|---|---|"]  # fmt: skip
    for row in result.rows:
        d = DISTORTIONS.get(row["distortion"])
        param = "" if row["param"] is None else f"{row['param']:g} {d.unit if d else ''}".strip()
        lines.append(f"| {row['distortion']} | {row['level']} | {param} | {_cell(row['auc'], row.get('auc_ci'))} | "
                     f"{_cell(row['eer'], row.get('eer_ci'))} | {_cell(row['acc'], row.get('acc_ci'))} |")  # fmt: skip
    lines += ["", f"Mean over the {summary['settings_count']} distortion settings: AUC {_cell(summary['mean_auc'])}, "
              f"EER {_cell(summary['mean_eer'])} (clean: AUC {_cell(summary['clean']['auc'])}, EER "
              f"{_cell(summary['clean']['eer'])}); lowest AUC at {summary['worst']}.", ""]  # fmt: skip
    note = small_test_set(summary["clean"].get("real", 0), summary["clean"].get("fake", 0))
    if note:
        lines += [f"**Small test set**: {note}.", ""]
    return "\n".join(lines)


def save_curve(rows: list[dict[str, Any]], clean: dict[str, Any], folder: Path, title: str = "") -> Path:
    """The figure of one distortion (``rows``: its levels): video AUC and EER against the level with their interval
    bands, the clean scores (``clean``) as dotted lines; written to ``folder/<distortion>.png``.

    Drawn with matplotlib's object API (no pyplot state), so a sweep can draw one distortion in a thread while it
    scores the next.
    """
    from matplotlib.figure import Figure

    folder.mkdir(parents=True, exist_ok=True)
    name = rows[0]["distortion"]
    levels = [r["level"] for r in rows]
    fig = Figure(figsize=(5, 3.5))
    ax = fig.subplots()
    for metric, colour in (("auc", "C0"), ("eer", "C3")):
        values = [math.nan if r[metric] is None else r[metric] for r in rows]
        ax.plot(levels, values, "o-", color=colour, label=f"video {metric.upper()}")
        bands = [r[f"{metric}_ci"] for r in rows if r.get(f"{metric}_ci")]
        if len(bands) == len(rows):
            ax.fill_between(levels, [c[0] for c in bands], [c[1] for c in bands], color=colour, alpha=0.15)
        if clean[metric] is not None:
            ax.axhline(clean[metric], color=colour, ls=":", lw=1, label=f"clean {metric.upper()}")
    d = DISTORTIONS.get(name)
    ax.set_xticks(levels, [f"{lv}\n{r['param']:g}" for lv, r in zip(levels, rows, strict=True)])
    ax.set(ylim=(0, 1), xlabel=f"level / {d.unit if d else 'parameter'}",
           title=f"{title} {name}: {d.description if d else ''}".strip())  # fmt: skip
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    path = folder / f"{name}.png"
    fig.savefig(path, dpi=90)
    return path


def save_curves(result: SweepResult, folder: Path, title: str = "") -> list[Path]:
    """One figure per distortion of ``result`` (:func:`save_curve`)."""
    clean = result.rows[0]
    names = dict.fromkeys(r["distortion"] for r in result.rows[1:])
    return [save_curve([r for r in result.rows[1:] if r["distortion"] == n], clean, folder, title) for n in names]


def write_sweep(result: SweepResult, out: Path, title: str = "", curves: bool = True) -> dict[str, Any]:
    """Writes ``robustness.csv``, ``robustness.md`` and (``curves``) ``robustness/<distortion>.png`` into ``out``;
    returns the summary for ``metrics.json`` (:func:`sweep_summary`)."""
    sweep_frame(result).to_csv(out / "robustness.csv", index=False)
    (out / "robustness.md").write_text(markdown_table(result, title))
    if curves:
        save_curves(result, out / "robustness", title)
    return sweep_summary(result)
