"""Stateful frame- and video-level metrics (torchmetrics ``Metric`` objects, DDP-ready)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torchmetrics import Metric, MetricCollection
from torchmetrics.classification import (
    BinaryAccuracy,
    BinaryAUROC,
    BinaryAveragePrecision,
    BinaryF1Score,
    BinaryPrecision,
    BinaryRecall,
)
from torchmetrics.functional.classification import (
    binary_accuracy,
    binary_auroc,
    binary_average_precision,
    binary_f1_score,
    binary_precision,
    binary_recall,
)
from torchmetrics.utilities import dim_zero_cat

from dfdet.metrics.functional import (
    AGGREGATION_METHODS,
    AggregationMethod,
    _has_both_classes,
    aggregate_by_video,
    binary_eer,
)

FRAME_METRIC_KEYS: tuple[str, ...] = ("acc", "precision", "recall", "f1", "auc", "ap", "eer")
VIDEO_METRIC_KEYS: tuple[str, ...] = tuple(f"video_{key}" for key in FRAME_METRIC_KEYS)


class BinaryEER(Metric):
    """Equal error rate over all samples seen, computed with :func:`dfdet.metrics.functional.binary_eer`.

    Keeps every score (memory ``O(N)``), like the exact :class:`torchmetrics.classification.BinaryAUROC`.

    Args:
        kwargs: Forwarded to :class:`torchmetrics.Metric` (e.g. ``sync_on_compute``).

    Example:
        >>> import torch
        >>> metric = BinaryEER()
        >>> metric.update(torch.tensor([0.1, 0.4]), torch.tensor([0, 0]))
        >>> metric.update(torch.tensor([0.35, 0.8]), torch.tensor([1, 1]))
        >>> metric.compute()
        tensor(0.5000)
    """

    is_differentiable = False
    higher_is_better = False
    full_state_update = False
    plot_lower_bound = 0.0
    plot_upper_bound = 1.0

    preds: list[Tensor]
    target: list[Tensor]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.add_state("preds", default=[], dist_reduce_fx="cat")
        self.add_state("target", default=[], dist_reduce_fx="cat")

    def update(self, preds: Tensor, target: Tensor) -> None:
        """Store a batch.

        Args:
            preds: Fake-probabilities in ``[0, 1]`` of any shape ``(...)``; higher means more likely fake.
            target: Integer labels of the same shape; ``1`` = fake, ``0`` = real.
        """
        if preds.shape != target.shape:
            raise ValueError(
                f"`preds` and `target` must have the same shape, got {tuple(preds.shape)} and {tuple(target.shape)}."
            )
        self.preds.append(preds.detach().reshape(-1))
        self.target.append(target.detach().reshape(-1))

    def compute(self) -> Tensor:
        """Return the EER as a 0-dim tensor; ``nan`` if only one class was seen."""
        return binary_eer(dim_zero_cat(self.preds), dim_zero_cat(self.target))


def _nan_like(reference: Tensor) -> Tensor:
    dtype = reference.dtype if reference.is_floating_point() else torch.get_default_dtype()
    return torch.tensor(float("nan"), dtype=dtype, device=reference.device)


class _BinaryAUROCOrNan(BinaryAUROC):
    """:class:`BinaryAUROC` returning ``nan`` (instead of torchmetrics' warning and ``0``) for one-class targets."""

    def compute(self) -> Tensor:  # type: ignore[override]  # same signature as torchmetrics' own override
        target = dim_zero_cat(self.target)
        return super().compute() if _has_both_classes(target) else _nan_like(dim_zero_cat(self.preds))


class _BinaryAveragePrecisionOrNan(BinaryAveragePrecision):
    """:class:`BinaryAveragePrecision` returning ``nan`` for one-class targets."""

    def compute(self) -> Tensor:  # type: ignore[override]  # same signature as torchmetrics' own override
        target = dim_zero_cat(self.target)
        return super().compute() if _has_both_classes(target) else _nan_like(dim_zero_cat(self.preds))


def build_frame_metrics(threshold: float = 0.5) -> MetricCollection:
    """Build the frame-level metric set used for one stage (clone it per stage with ``prefix="val/"`` etc.).

    Keys: ``acc``, ``precision``, ``recall``, ``f1`` (at ``threshold``), ``auc``, ``ap``, ``eer`` (threshold-free,
    exact, ``O(N)`` memory). All metrics take fake-probabilities in ``[0, 1]`` of any shape and integer labels
    (``1`` = fake) of the same shape. ``auc``, ``ap`` and ``eer`` are ``nan`` when only one class was seen.

    Args:
        threshold: Probability strictly above which a sample counts as fake for the thresholded metrics
            (torchmetrics' convention: ``preds > threshold``).

    Returns:
        A :class:`torchmetrics.MetricCollection` keyed as above.
    """
    threshold = float(threshold)  # torchmetrics rejects ints such as a YAML ``1``
    return MetricCollection(
        {
            "acc": BinaryAccuracy(threshold=threshold),
            "precision": BinaryPrecision(threshold=threshold),
            "recall": BinaryRecall(threshold=threshold),
            "f1": BinaryF1Score(threshold=threshold),
            "auc": _BinaryAUROCOrNan(),
            "ap": _BinaryAveragePrecisionOrNan(),
            "eer": BinaryEER(),
        }
    )


class VideoMetrics(Metric):
    """Video-level metrics from frame-level fake-probabilities.

    Every update stores the frame rows; :meth:`compute` aggregates them per video with
    :func:`dfdet.metrics.functional.aggregate_by_video` (a video is fake if any frame is fake) and scores the videos.
    States are concatenated across processes under DDP, so each video's frames may be spread over ranks. Each
    (video, frame) row is expected once: duplicated rows, e.g. from a ``DistributedSampler`` padding the last batch,
    are not removed and would weigh twice in the aggregation.

    Args:
        aggregation: How frame scores become a video score: ``"mean"``, ``"max"`` or ``"topk_mean"``.
        top_k: Frames used by ``"topk_mean"`` (the ``top_k`` scores farthest from 0.5).
        threshold: Video probability strictly above which a video counts as fake for acc/precision/recall/f1.
        kwargs: Forwarded to :class:`torchmetrics.Metric`.

    Example:
        >>> import torch
        >>> metric = VideoMetrics(aggregation="mean")
        >>> metric.update(torch.tensor([0.2, 0.4, 0.9, 0.7]), torch.tensor([0, 0, 1, 1]), torch.tensor([0, 0, 1, 1]))
        >>> metric.compute()["video_acc"]
        tensor(1.)
    """

    is_differentiable = False
    higher_is_better = None  # mixed: every key is higher-is-better except ``video_eer``
    full_state_update = False

    preds: list[Tensor]
    target: list[Tensor]
    video_idx: list[Tensor]

    def __init__(
        self,
        aggregation: AggregationMethod | str = "mean",
        top_k: int = 5,
        threshold: float = 0.5,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if aggregation not in AGGREGATION_METHODS:
            raise ValueError(f"Unknown aggregation {aggregation!r}; expected one of {AGGREGATION_METHODS}.")
        if top_k < 1:
            raise ValueError(f"`top_k` must be >= 1, got {top_k}.")
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"`threshold` must be in [0, 1], got {threshold}.")
        self.aggregation = aggregation
        self.top_k = top_k
        self.threshold = float(threshold)
        self.add_state("preds", default=[], dist_reduce_fx="cat")
        self.add_state("target", default=[], dist_reduce_fx="cat")
        self.add_state("video_idx", default=[], dist_reduce_fx="cat")

    def update(self, preds: Tensor, target: Tensor, video_idx: Tensor) -> None:
        """Store a batch of frames.

        Args:
            preds: Fake-probabilities of shape ``(B,)`` in ``[0, 1]``.
            target: Integer frame labels of shape ``(B,)``; ``1`` = fake, ``0`` = real.
            video_idx: Integer video ids of shape ``(B,)``, unique per video across the whole evaluation set.
        """
        if not (preds.ndim == target.ndim == video_idx.ndim == 1):
            raise ValueError("`preds`, `target` and `video_idx` must be 1-D.")
        if not preds.shape[0] == target.shape[0] == video_idx.shape[0]:
            raise ValueError(
                "`preds`, `target` and `video_idx` must have the same length, got "
                f"{preds.shape[0]}, {target.shape[0]} and {video_idx.shape[0]}."
            )
        self.preds.append(preds.detach())
        self.target.append(target.detach())
        self.video_idx.append(video_idx.detach())

    def compute(self) -> dict[str, Tensor]:
        """Aggregate per video and score.

        Returns:
            Dict with 0-dim tensors ``video_acc``, ``video_precision``, ``video_recall``, ``video_f1`` (at
            ``threshold``), ``video_auc``, ``video_ap`` and ``video_eer``. The last three are ``nan`` when the
            videos hold only one class.
        """
        video_preds, video_target, _ = aggregate_by_video(
            dim_zero_cat(self.preds),
            dim_zero_cat(self.target),
            dim_zero_cat(self.video_idx),
            method=self.aggregation,
            top_k=self.top_k,
        )
        video_target = video_target.long()
        t = self.threshold
        results = {
            "video_acc": binary_accuracy(video_preds, video_target, threshold=t),
            "video_precision": binary_precision(video_preds, video_target, threshold=t),
            "video_recall": binary_recall(video_preds, video_target, threshold=t),
            "video_f1": binary_f1_score(video_preds, video_target, threshold=t),
        }
        if _has_both_classes(video_target):
            results["video_auc"] = binary_auroc(video_preds, video_target)
            results["video_ap"] = binary_average_precision(video_preds, video_target)
        else:
            results["video_auc"] = _nan_like(video_preds)
            results["video_ap"] = _nan_like(video_preds)
        results["video_eer"] = binary_eer(video_preds, video_target)
        return results
