"""Per-attack equal error rates (each spoofing attack against all bona fide utterances), and a callback logging them.

The pooled EER is in the shared set (``test/eer``); for audio, frame level is utterance level.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import lightning as L
import numpy as np
import torch
from torch import Tensor

from dfdet.metrics.functional import binary_eer


def per_attack_eer(preds: Tensor, target: Tensor, methods: Sequence[str] | np.ndarray) -> dict[str, float]:
    """EER of each spoofing attack against all bona fide samples, as in the ASVspoof evaluation plans.

    Args:
        preds: fake-probabilities (or any scores, higher = more likely spoof) of shape (N,).
        target: labels (N,), 1 = spoof, 0 = bona fide.
        methods: attack id of each sample (N,); bona fide rows' value is ignored.

    Returns:
        ``{attack: eer}`` for every attack among the spoofs, sorted by attack id; ``nan`` when there is no bona fide
        sample.

    Example:
        >>> import torch
        >>> methods = ["real", "real", "A01", "A02"]
        >>> per_attack_eer(torch.tensor([0.1, 0.2, 0.9, 0.15]), torch.tensor([0, 0, 1, 1]), methods)
        {'A01': 0.0, 'A02': 0.5}
    """
    preds, target = preds.reshape(-1).float(), target.reshape(-1).long()
    methods = np.asarray(methods, dtype=object).reshape(-1)
    if not len(methods) == len(preds) == len(target):
        raise ValueError(f"preds, target and methods differ in length: {len(preds)}, {len(target)}, {len(methods)}")
    bona = (target == 0).cpu().numpy()
    spoof = ~bona
    out = {}
    for attack in sorted({str(m) for m in methods[spoof]}):
        mask = torch.as_tensor(bona | (spoof & (methods == attack)), device=preds.device)
        out[attack] = float(binary_eer(preds[mask], target[mask]))
    return out


class PerAttackEER(L.Callback):
    """Logs ``<stage>/eer_<attack>`` for each attack after validation/test epochs.

    Reads the scored rows kept by the detector's metrics (``pl_module.eval_metrics[stage].rows()``) before the
    detector resets them, and the utterances' attack ids from the datamodule's ``methods(video_idx)``
    (:class:`~dfdet.audio.AudioDataModule`). Lightning calls callbacks' epoch-end hooks before the module's.

    Args:
        stages: ``val`` and/or ``test``.
        datamodule: where to read attack ids when the trainer runs on bare dataloaders (``evaluate.py``); None: the
            trainer's datamodule.
    """

    def __init__(self, stages: Sequence[str] = ("test",), datamodule: L.LightningDataModule | None = None) -> None:
        self.stages = tuple(stages)
        self.datamodule = datamodule

    def _log(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        # Duck-typed: any datamodule with methods(video_idx) (checked below).
        datamodule: Any = self.datamodule if self.datamodule is not None else getattr(trainer, "datamodule", None)
        metrics = getattr(pl_module, "eval_metrics", None)
        if stage not in self.stages or trainer.sanity_checking or metrics is None or datamodule is None:
            return
        if not hasattr(datamodule, "methods"):
            return
        rows = metrics[stage].rows()
        if rows["preds"].numel() == 0:
            return
        methods = datamodule.methods(rows["video_idx"].cpu())
        for attack, eer in per_attack_eer(rows["preds"], rows["target"], methods).items():
            pl_module.log(f"{stage}/eer_{attack}", eer)

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._log(trainer, pl_module, "val")

    def on_test_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._log(trainer, pl_module, "test")
