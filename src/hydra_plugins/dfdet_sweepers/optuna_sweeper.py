"""An Optuna sweeper for Hydra, driving current Optuna directly.

The official ``hydra-optuna-sweeper`` pins ``optuna<3``; this one uses Optuna's ask/tell API, so any Optuna >= 3
works. Select it with ``hydra/sweeper=optuna`` (conf/hydra/sweeper/optuna.yaml), e.g. through
``python train.py hparams_search=optuna``.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hydra.core.plugins import Plugins
from hydra.plugins.launcher import Launcher
from hydra.plugins.sweeper import Sweeper
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf

if TYPE_CHECKING:
    import optuna

log = logging.getLogger(__name__)


def suggest(trial: optuna.Trial, name: str, spec: dict[str, Any]) -> Any:
    """One parameter value from its spec: ``{type: float|int, low, high, log?, step?}`` or
    ``{type: categorical, choices: [...]}``."""
    kind = spec.get("type", "float")
    if kind == "categorical":
        return trial.suggest_categorical(name, list(spec["choices"]))
    if kind == "int":
        return trial.suggest_int(
            name, int(spec["low"]), int(spec["high"]), step=int(spec.get("step", 1)), log=bool(spec.get("log", False))
        )
    if kind == "float":
        return trial.suggest_float(
            name, float(spec["low"]), float(spec["high"]), step=spec.get("step"), log=bool(spec.get("log", False))
        )
    raise ValueError(f"Unknown parameter type '{kind}' for {name}; use float, int or categorical")


class OptunaSweeper(Sweeper):
    """Runs ``n_trials`` jobs, ``n_jobs`` at a time, each with overrides suggested by an Optuna sampler.

    Args:
        params: search space, ``{override.key: spec}`` (see :func:`suggest`).
        direction: ``maximize`` or ``minimize`` the task's return value (``optimized_metric``).
        n_trials: total trials.
        n_jobs: trials launched together (one launcher batch).
        seed: TPE sampler seed.
        study_name: Optuna study name.
        storage: Optuna storage URL (e.g. ``sqlite:///optuna.db``) to share or resume a study; null: in memory.
    """

    def __init__(
        self,
        params: dict[str, Any],
        direction: str = "maximize",
        n_trials: int = 20,
        n_jobs: int = 1,
        seed: int | None = None,
        study_name: str | None = None,
        storage: str | None = None,
    ) -> None:
        self.params = {k: OmegaConf.to_container(v) if isinstance(v, DictConfig) else v for k, v in params.items()}
        self.direction, self.n_trials, self.n_jobs = direction, n_trials, n_jobs
        self.seed, self.study_name, self.storage = seed, study_name, storage
        self.launcher: Launcher | None = None
        self.config: DictConfig | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig) -> None:
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def sweep(self, arguments: list[str]) -> optuna.Study:
        import optuna  # here: Hydra imports every plugin module at each start, optuna is needed by sweeps only

        assert self.launcher is not None and self.config is not None
        study = optuna.create_study(
            direction=self.direction,
            sampler=optuna.samplers.TPESampler(seed=self.seed),
            study_name=self.study_name,
            storage=self.storage,
            load_if_exists=self.storage is not None,
        )
        done = 0
        while done < self.n_trials:
            trials = [study.ask() for _ in range(min(self.n_jobs, self.n_trials - done))]
            batch = [[*arguments, *(f"{k}={suggest(t, k, spec)}" for k, spec in self.params.items())] for t in trials]
            returns = self.launcher.launch(batch, initial_job_idx=done)
            for trial, ret in zip(trials, returns, strict=True):
                value = ret.return_value if ret.status.name == "COMPLETED" else None
                if value is None or (isinstance(value, float) and math.isnan(value)):
                    study.tell(trial, state=optuna.trial.TrialState.FAIL)
                else:
                    study.tell(trial, float(value))
            done += len(trials)
        self._report(study)
        return study

    def _report(self, study: optuna.Study) -> None:
        import optuna

        assert self.config is not None
        out = Path(self.config.hydra.sweep.dir)
        out.mkdir(parents=True, exist_ok=True)
        study.trials_dataframe().to_csv(out / "optuna_trials.csv", index=False)
        completed = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
        if completed:
            best = {"best_value": study.best_value, "best_params": study.best_params, "trials": len(study.trials)}
            OmegaConf.save(OmegaConf.create(best), out / "optimization_results.yaml")
            log.info("Best %s = %.4f with %s", self.direction, study.best_value, study.best_params)
