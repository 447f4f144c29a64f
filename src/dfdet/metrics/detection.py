"""All evaluation rows of a stage in one DDP-ready metric: frame and video scores at any threshold."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from dfdet.metrics.calibration import expected_calibration_error
from dfdet.metrics.functional import AGGREGATION_METHODS, aggregate_by_video, binary_eer_threshold, binary_scores
from dfdet.metrics.per_attack import per_attack_eer, per_subset_scores


class DetectionMetrics(Metric):
    """Keeps every (probability, label, video, frame) row of an evaluation and scores frames and videos.

    States are concatenated across processes under DDP (``dist_reduce_fx="cat"``), so video aggregation sees every
    frame of a video whatever rank scored it. Rows repeated by a padding ``DistributedSampler`` (same video and frame
    index) are counted once.

    Args:
        aggregation: video score from frame scores: ``mean``, ``max`` or ``topk_mean`` (see
            :func:`~dfdet.metrics.functional.aggregate_by_video`).
        top_k: frames used by ``topk_mean``.

    Attributes:
        methods: the method (``real`` or the attack / manipulation id) of each ``video_idx``, set from the data
            (:meth:`set_methods`); when set, :meth:`compute` adds each attack's EER against all real rows
            (``eer_<attack>``, :func:`~dfdet.metrics.per_attack.per_attack_eer`).
        subsets: the subset of each ``video_idx`` (:meth:`set_subsets`); when set, :meth:`compute` adds each
            subset's real, fake and mean accuracy and AP over videos (images), at the threshold and at 0.5
            (:func:`~dfdet.metrics.per_attack.per_subset_scores`).
    """

    is_differentiable = False
    higher_is_better = None
    full_state_update = False

    preds: list[Tensor]
    target: list[Tensor]
    video_idx: list[Tensor]
    frame_index: list[Tensor]

    def __init__(self, aggregation: str = "mean", top_k: int = 5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if aggregation not in AGGREGATION_METHODS:
            raise ValueError(f"Unknown video aggregation '{aggregation}'; expected one of {AGGREGATION_METHODS}")
        self.aggregation = aggregation
        self.top_k = top_k
        for name in ("preds", "target", "video_idx", "frame_index"):
            self.add_state(name, default=[], dist_reduce_fx="cat")
        self.methods: np.ndarray | None = None
        self.subsets: np.ndarray | None = None

    def set_subsets(self, subsets: Sequence[str] | np.ndarray | None) -> None:
        """The subset of each ``video_idx`` (a generator's test set, reals included); None: no per-subset scores."""
        self.subsets = None if subsets is None else np.asarray(subsets, dtype=object)

    def set_methods(self, methods: Sequence[str] | np.ndarray | None) -> None:
        """The method of each ``video_idx`` (index into ``methods``); None: no per-attack EER."""
        self.methods = None if methods is None else np.asarray(methods, dtype=object)

    def update(self, preds: Tensor, target: Tensor, video_idx: Tensor, frame_index: Tensor | None = None) -> None:
        """Args: preds (B,) fake-probabilities; target (B,) labels (1 = fake); video_idx (B,); frame_index (B,)."""
        self.preds.append(preds.detach().float())
        self.target.append(target.detach().long())
        self.video_idx.append(video_idx.detach().long())
        self.frame_index.append((frame_index if frame_index is not None else torch.full_like(video_idx, -1)).long())

    def _rows(self) -> dict[str, Tensor]:
        rows = {name: dim_zero_cat(getattr(self, name)) for name in ("preds", "target", "video_idx", "frame_index")}
        if rows["frame_index"].numel() and bool((rows["frame_index"] >= 0).all()):
            keys = rows["video_idx"] * (int(rows["frame_index"].max()) + 1) + rows["frame_index"]
            _, inverse = torch.unique(keys, return_inverse=True)
            first = torch.full((int(inverse.max()) + 1,), keys.numel(), dtype=torch.long, device=keys.device)
            first = first.scatter_reduce(0, inverse, torch.arange(keys.numel(), device=keys.device), "amin")
            rows = {name: value[first.sort().values] for name, value in rows.items()}
        return rows

    def rows(self) -> dict[str, Tensor]:
        """The rows of every process, each (video, frame) once: ``preds``, ``target``, ``video_idx``,
        ``frame_index``, each (N,)."""
        with self.sync_context():
            return self._rows()

    def select_threshold(self) -> Tensor:
        """The frame threshold at the equal-error point of the rows seen (nan if one class is missing)."""
        rows = self.rows()
        return binary_eer_threshold(rows["preds"], rows["target"])

    def compute(self, threshold: float = 0.5) -> dict[str, Tensor]:  # type: ignore[override]
        """Frame metrics (``acc``, ... ``logloss``, ``ece``) and video metrics (``video_acc``, ...) at ``threshold``,
        and the thresholded ones at 0.5 too (``acc@0.5``, ``video_f1@0.5``, ...) when ``threshold`` differs."""
        rows = self._rows()  # states are already synced inside compute
        video_preds, video_target, video_ids = aggregate_by_video(
            rows["preds"], rows["target"], rows["video_idx"], method=self.aggregation, top_k=self.top_k
        )
        out: dict[str, Tensor] = {}
        for prefix, (p, y) in {"": (rows["preds"], rows["target"]), "video_": (video_preds, video_target)}.items():
            scores = binary_scores(p, y, threshold)
            out.update({f"{prefix}{k}": v for k, v in scores.items()})
            out[f"{prefix}ece"] = torch.tensor(expected_calibration_error(p, y))  # 15 bins, Guo et al. 2017
            if abs(float(threshold) - 0.5) > 1e-12:
                at_half = binary_scores(p, y, 0.5)
                out.update({f"{prefix}{k}@0.5": at_half[k] for k in ("acc", "precision", "recall", "f1")})
        if self.methods is not None and rows["preds"].numel():
            methods = self.methods[rows["video_idx"].cpu().numpy()]
            for attack, eer in per_attack_eer(rows["preds"], rows["target"], methods).items():
                out[f"eer_{attack}"] = torch.tensor(eer)
        if self.subsets is not None and video_preds.numel():  # per image (video), as the field reports them
            subsets = self.subsets[video_ids.cpu().numpy()]
            thresholds = {"": float(threshold)} if abs(float(threshold) - 0.5) < 1e-12 else {"": threshold, "@0.5": 0.5}
            for suffix, t in thresholds.items():
                by_subset = per_subset_scores(video_preds, video_target, subsets, float(t))
                if suffix:  # AP is threshold-free: reported once
                    by_subset = {k: v for k, v in by_subset.items() if not k.startswith(("ap_", "mean_ap"))}
                out.update({f"{k}{suffix}": torch.tensor(v) for k, v in by_subset.items()})
        out["threshold"] = torch.tensor(float(threshold))
        return out
