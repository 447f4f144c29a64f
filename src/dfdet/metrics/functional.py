"""Functional metrics for deepfake detection: equal error rate and frame-to-video aggregation.

All functions take fake-probabilities (``preds`` in ``[0, 1]``, higher means more likely fake) and integer labels
(``target``: ``1`` = fake, ``0`` = real). They are pure functions on tensors and never move data between devices.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor
from torchmetrics.functional.classification import (
    binary_accuracy,
    binary_auroc,
    binary_average_precision,
    binary_f1_score,
    binary_precision,
    binary_recall,
    binary_roc,
)

AggregationMethod = Literal["mean", "max", "topk_mean"]
AGGREGATION_METHODS: tuple[str, ...] = ("mean", "max", "topk_mean")


def _check_binary_inputs(preds: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """Flatten ``preds`` and ``target`` and check that they have the same shape."""
    if preds.shape != target.shape:
        raise ValueError(
            f"`preds` and `target` must have the same shape, got {tuple(preds.shape)} and {tuple(target.shape)}."
        )
    return preds.reshape(-1), target.reshape(-1)


def _has_both_classes(target: Tensor) -> bool:
    """Return whether ``target`` contains at least one fake (``1``) and one real (``0``) label."""
    return bool(torch.any(target == 1)) and bool(torch.any(target == 0))


def _eer_point(preds: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """Equal error rate and its threshold, or ``(nan, nan)`` when only one class is present.

    Walks the exact ROC curve (one point per distinct score) and linearly interpolates between the last point with
    ``FPR < FNR`` and the first point with ``FPR >= FNR``; the error rate and the threshold are interpolated with the
    same weight.
    """
    preds, target = _check_binary_inputs(preds, target)
    dtype = preds.dtype if preds.is_floating_point() else torch.get_default_dtype()
    nan = torch.tensor(float("nan"), dtype=dtype, device=preds.device)
    if not _has_both_classes(target):
        return nan, nan.clone()

    fpr, tpr, thresholds = binary_roc(preds.to(dtype), target.long(), thresholds=None)
    fnr = 1 - tpr
    diff = fpr - fnr  # -1 at the first ROC point (fpr=0, tpr=0), +1 at the last (fpr=1, tpr=1)
    hi = int(torch.nonzero(diff >= 0)[0, 0])  # first point at or past the crossing; hi >= 1 since diff[0] == -1
    lo = hi - 1
    weight = -diff[lo] / (diff[hi] - diff[lo])
    eer = fpr[lo] + weight * (fpr[hi] - fpr[lo])
    threshold = thresholds[lo] + weight * (thresholds[hi] - thresholds[lo])
    return eer.to(dtype), threshold.to(dtype)


def binary_eer(preds: Tensor, target: Tensor) -> Tensor:
    """Equal error rate (EER): the error rate at which the false positive rate equals the false negative rate.

    The ROC curve is computed exactly (one point per distinct score, via
    :func:`torchmetrics.functional.classification.binary_roc`) and the EER is linearly interpolated at the point
    where ``FPR`` (real classified as fake) crosses ``FNR = 1 - TPR`` (fake classified as real).

    Args:
        preds: Fake-probabilities in ``[0, 1]`` of any shape ``(...)``; higher means more likely fake. Scores outside
            ``[0, 1]`` are treated as logits by torchmetrics and passed through a sigmoid, which does not change the
            EER.
        target: Integer labels of the same shape as ``preds``; ``1`` = fake, ``0`` = real.

    Returns:
        A 0-dim float tensor in ``[0, 1]``. ``nan`` when ``target`` holds only one class (the EER is undefined then).

    Example:
        >>> import torch
        >>> binary_eer(torch.tensor([0.1, 0.4, 0.35, 0.8]), torch.tensor([0, 0, 1, 1]))
        tensor(0.5000)
    """
    return _eer_point(preds, target)[0]


def binary_eer_threshold(preds: Tensor, target: Tensor) -> Tensor:
    """Score threshold at the equal-error-rate point, interpolated like :func:`binary_eer`.

    Classifying ``preds >= threshold`` as fake gives (up to interpolation between neighbouring scores) equal false
    positive and false negative rates on this data.

    Args:
        preds: Fake-probabilities in ``[0, 1]`` of any shape ``(...)``; higher means more likely fake.
        target: Integer labels of the same shape as ``preds``; ``1`` = fake, ``0`` = real.

    Returns:
        A 0-dim float tensor in ``[0, 1]``. ``nan`` when ``target`` holds only one class.

    Example:
        >>> import torch
        >>> binary_eer_threshold(torch.tensor([0.1, 0.2, 0.8, 0.9]), torch.tensor([0, 0, 1, 1]))
        tensor(0.8000)
    """
    return _eer_point(preds, target)[1]


def _topk_mean(preds: Tensor, inverse: Tensor, counts: Tensor, top_k: int) -> Tensor:
    """Per-group mean of the ``top_k`` scores farthest from 0.5 (ties broken by frame order)."""
    confidence = (preds - 0.5).abs()
    by_confidence = torch.argsort(confidence, descending=True, stable=True)
    order = by_confidence[torch.argsort(inverse[by_confidence], stable=True)]  # grouped, most confident first
    group_start = torch.cumsum(counts, 0) - counts
    sorted_groups = inverse[order]
    rank = torch.arange(order.numel(), device=preds.device) - group_start[sorted_groups]
    keep = order[rank < top_k]
    sums = torch.zeros(counts.numel(), dtype=preds.dtype, device=preds.device).index_add_(0, inverse[keep], preds[keep])
    return sums / counts.clamp(max=top_k).to(preds.dtype)


def aggregate_by_video(
    preds: Tensor,
    target: Tensor,
    video_idx: Tensor,
    method: AggregationMethod | str = "mean",
    top_k: int = 5,
) -> tuple[Tensor, Tensor, Tensor]:
    """Aggregate frame-level fake-probabilities into one score and one label per video.

    Methods:
        - ``"mean"``: mean of the video's frame scores.
        - ``"max"``: highest frame score (a video is as fake as its most fake-looking frame).
        - ``"topk_mean"``: mean of the ``top_k`` most *confident* frame scores, i.e. the ones farthest from 0.5 in
          either direction (``|p - 0.5|``), so confident real frames pull the score down as much as confident fake
          frames pull it up. Videos with fewer than ``top_k`` frames use all of them. Ties in confidence are broken
          by frame order (earlier rows first).

    A video's label is the maximum of its frame labels: a video is fake if any of its frames is fake.

    Args:
        preds: Fake-probabilities of shape ``(N,)`` in ``[0, 1]``, one per frame.
        target: Integer frame labels of shape ``(N,)``; ``1`` = fake, ``0`` = real.
        video_idx: Integer video ids of shape ``(N,)``; frames of one video share an id. Ids need not be contiguous.
        method: One of ``"mean"``, ``"max"``, ``"topk_mean"``.
        top_k: Number of frames used by ``"topk_mean"``; must be >= 1. Ignored by the other methods.

    Returns:
        ``(video_preds, video_target, video_ids)``, each of shape ``(V,)`` for the ``V`` distinct ids, ordered by
        ascending video id. ``video_preds`` is floating point, ``video_target`` has ``target``'s dtype and
        ``video_ids`` has ``video_idx``'s dtype.

    Raises:
        ValueError: If the inputs are not 1-D tensors of equal length, ``method`` is unknown or ``top_k < 1``.

    Example:
        >>> import torch
        >>> preds = torch.tensor([0.2, 0.4, 0.9, 0.7, 0.1])
        >>> target = torch.tensor([0, 0, 1, 1, 0])
        >>> video_idx = torch.tensor([3, 3, 7, 7, 5])
        >>> aggregate_by_video(preds, target, video_idx, method="max")
        (tensor([0.4000, 0.1000, 0.9000]), tensor([0, 0, 1]), tensor([3, 5, 7]))
    """
    if method not in AGGREGATION_METHODS:
        raise ValueError(f"Unknown aggregation method {method!r}; expected one of {AGGREGATION_METHODS}.")
    if top_k < 1:
        raise ValueError(f"`top_k` must be >= 1, got {top_k}.")
    for name, tensor in (("preds", preds), ("target", target), ("video_idx", video_idx)):
        if tensor.ndim != 1:
            raise ValueError(f"`{name}` must be 1-D, got shape {tuple(tensor.shape)}.")
    if not preds.shape[0] == target.shape[0] == video_idx.shape[0]:
        raise ValueError(
            "`preds`, `target` and `video_idx` must have the same length, got "
            f"{preds.shape[0]}, {target.shape[0]} and {video_idx.shape[0]}."
        )
    if video_idx.is_floating_point():
        raise ValueError(f"`video_idx` must be an integer tensor, got dtype {video_idx.dtype}.")
    if not preds.is_floating_point():
        preds = preds.to(torch.get_default_dtype())

    video_ids, inverse, counts = torch.unique(video_idx, sorted=True, return_inverse=True, return_counts=True)
    num_videos = video_ids.numel()
    video_target = torch.zeros(num_videos, dtype=target.dtype, device=target.device).scatter_reduce(
        0, inverse, target, reduce="amax", include_self=False
    )
    if method == "mean":
        sums = torch.zeros(num_videos, dtype=preds.dtype, device=preds.device).index_add_(0, inverse, preds)
        video_preds = sums / counts.to(preds.dtype)
    elif method == "max":
        video_preds = torch.zeros(num_videos, dtype=preds.dtype, device=preds.device).scatter_reduce(
            0, inverse, preds, reduce="amax", include_self=False
        )
    else:
        video_preds = _topk_mean(preds, inverse, counts, top_k)
    return video_preds, video_target, video_ids


def binary_scores(preds: Tensor, target: Tensor, threshold: float = 0.5) -> dict[str, Tensor]:
    """The shared metric set on fake-probabilities.

    Args:
        preds: fake-probabilities (N,) in [0, 1].
        target: labels (N,), 1 = fake.
        threshold: a sample is called fake when its probability is strictly above it.

    Returns:
        0-dim tensors ``acc``, ``precision``, ``recall``, ``f1`` (at ``threshold``), ``auc``, ``ap``, ``eer`` (nan
        when one class is missing) and ``logloss`` (binary cross-entropy of the probabilities).

    Example:
        >>> import torch
        >>> scores = binary_scores(torch.tensor([0.1, 0.6, 0.4, 0.9]), torch.tensor([0, 0, 1, 1]))
        >>> {key: round(scores[key].item(), 4) for key in ("acc", "f1", "auc", "ap", "eer", "logloss")}
        {'acc': 0.5, 'f1': 0.5, 'auc': 0.75, 'ap': 0.8333, 'eer': 0.5, 'logloss': 0.5108}
    """
    preds, target = _check_binary_inputs(preds.float(), target.long())
    t = float(threshold)
    nan = torch.tensor(float("nan"), device=preds.device)
    both = _has_both_classes(target)
    eps = 1e-7
    clipped = preds.clamp(eps, 1 - eps)
    return {
        "acc": binary_accuracy(preds, target, threshold=t),
        "precision": binary_precision(preds, target, threshold=t),
        "recall": binary_recall(preds, target, threshold=t),
        "f1": binary_f1_score(preds, target, threshold=t),
        "auc": binary_auroc(preds, target) if both else nan,
        "ap": binary_average_precision(preds, target) if both else nan,
        "eer": binary_eer(preds, target),
        "logloss": -(target * clipped.log() + (1 - target) * (1 - clipped).log()).mean(),
    }
