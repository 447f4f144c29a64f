"""Up-front checks of the documented command-line keys (types and ranges), so a bad override is one clear line.

``data.batch_size=-1`` or ``trainer.max_epochs=abc`` would otherwise reach a DataLoader or the Trainer and end in a
long traceback. Keys absent from the composed config (another task, an audio data module) are not checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from omegaconf import DictConfig, OmegaConf

from dfdet.errors import ConfigValueError


@dataclass(frozen=True)
class Rule:
    """What a key accepts: an integer or a number within ``[low, high]``, optionally null.

    Args:
        kind: ``"int"`` (a whole number), ``"number"`` (int or float) or ``"batches"`` (Lightning's ``limit_*``: a
            fraction in [0, 1] or a whole number of batches >= 0).
        low: the smallest accepted value (None: unbounded).
        high: the largest accepted value (None: unbounded).
        nullable: null is accepted.
    """

    kind: str
    low: float | None = None
    high: float | None = None
    nullable: bool = False

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not accepted, or None when it is."""
        if value is None:
            return None if self.nullable else "must be set"
        if self.kind == "batches":
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                return "must be a fraction in [0, 1] or a number of batches >= 0"
            return "a fraction must be at most 1.0" if isinstance(value, float) and value > 1 else None
        is_int = isinstance(value, int) and not isinstance(value, bool)
        accepted = is_int or (self.kind == "number" and isinstance(value, float))
        if not accepted or (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            return f"must be {'an integer' if self.kind == 'int' else 'a number'}{self._range()}"
        return None

    def _range(self) -> str:
        if self.low is not None and self.high is not None:
            return f" in [{self.low:g}, {self.high:g}]"
        if self.low is not None:
            return f" >= {self.low:g}"
        return f" <= {self.high:g}" if self.high is not None else ""


_BATCHES = Rule("batches", nullable=True)

# The keys the README and conf/*.yaml document for train.py and evaluate.py.
DOCUMENTED: dict[str, Rule] = {
    "seed": Rule("int", low=0, nullable=True),
    "data.batch_size": Rule("int", low=1),
    "data.num_workers": Rule("int", low=0),
    "model.top_k": Rule("int", low=1, nullable=True),
    "model.threshold": Rule("number", low=0, high=1, nullable=True),
    "model.optimizer.lr": Rule("number", low=0),
    "trainer.max_epochs": Rule("int", low=1),
    "trainer.accumulate_grad_batches": Rule("int", low=1),
    "trainer.check_val_every_n_epoch": Rule("int", low=1, nullable=True),
    "trainer.log_every_n_steps": Rule("int", low=1),
    "trainer.limit_train_batches": _BATCHES,
    "trainer.limit_val_batches": _BATCHES,
    "trainer.limit_test_batches": _BATCHES,
    "threshold": Rule("number", low=0, high=1, nullable=True),
    "calibration.precision": Rule("number", low=0.5, high=1),
    "top_k": Rule("int", low=1, nullable=True),
}

_ABSENT = object()


def check_documented_keys(cfg: DictConfig) -> None:
    """Checks every documented key present in ``cfg`` against :data:`DOCUMENTED`.

    Raises:
        ConfigValueError: the first bad key, as ``key=value: must be ...`` (one line).
    """
    for key, rule in DOCUMENTED.items():
        try:
            value = OmegaConf.select(cfg, key, default=_ABSENT)
        except Exception:  # noqa: BLE001 - an unresolvable interpolation is reported where it is used
            continue
        if value is _ABSENT:
            continue
        problem = rule.problem(value)
        if problem is not None:
            shown = "null" if value is None else value
            raise ConfigValueError(f"{key}={shown}: {problem}")
