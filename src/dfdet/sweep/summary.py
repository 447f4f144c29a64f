"""After a Hydra multirun: one table row per run, its overrides and metrics (``sweep_summary.csv``)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf

from dfdet.utils.table import print_metrics

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger("dfdet")


def collect_runs(sweep_dir: str | Path) -> pd.DataFrame:
    """Reads every ``<sweep_dir>/<job>/metrics.json`` with the job's ``.hydra/overrides.yaml``.

    Returns:
        One row per job: ``job``, ``overrides`` (space-separated), ``status`` (``ok`` or ``failed``) and one
        column per metric.
    """
    import pandas as pd  # here: this module is loaded by every Hydra run (its callback), pandas by sweeps only

    rows = []
    for job in sorted((p for p in Path(sweep_dir).iterdir() if p.is_dir()), key=lambda p: (len(p.name), p.name)):
        overrides_file = job / ".hydra" / "overrides.yaml"
        if not overrides_file.is_file():
            continue
        overrides = cast(list[str], OmegaConf.to_container(OmegaConf.load(overrides_file)))  # Hydra writes a list
        metrics_file = job / "metrics.json"
        metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
        flat = {k: v for k, v in metrics.items() if isinstance(v, (int, float)) or v is None}
        rows.append(
            {
                "job": job.name,
                "overrides": " ".join(map(str, overrides)),
                "status": "ok" if metrics else "failed",
                **flat,
            }
        )
    return pd.DataFrame(rows)


class SweepSummary(Callback):
    """Hydra callback writing ``sweep_summary.csv`` in the sweep folder and printing the key columns.

    Args:
        columns: metrics shown in the printed table (all are kept in the CSV).
    """

    def __init__(self, columns: list[str] | None = None) -> None:
        self.columns = list(columns or ["val/auc_best", "test/auc", "test/video_auc", "test/eer"])

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        import pandas as pd

        sweep_dir = Path(config.hydra.sweep.dir)
        if not sweep_dir.is_dir():
            return
        table = collect_runs(sweep_dir)
        if table.empty:
            return
        table.to_csv(sweep_dir / "sweep_summary.csv", index=False)
        log.info("Sweep summary: %s", sweep_dir / "sweep_summary.csv")
        common = set.intersection(*(set(o.split()) for o in table["overrides"]))
        for _, row in table.iterrows():
            varying = " ".join(o for o in row["overrides"].split() if o not in common)
            shown = {c: float(row[c]) for c in self.columns if c in row and pd.notna(row[c])}
            print_metrics(shown, title=f"job {row['job']} [{row['status']}] {varying}")
