"""Metrics per group of the data: each attack's EER against all real samples (spoofing systems, manipulation
methods), and each subset's real / fake accuracy and AP (a generator's test set with its own reals).

:class:`~dfdet.metrics.DetectionMetrics` reports them as ``<stage>/eer_<attack>`` when the data names each item's
method, and ``<stage>/acc_<subset>``, ... when it names subsets; the pooled EER is in the shared set (``test/eer``).
For audio, frame level is utterance level.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from dfdet.metrics.functional import binary_eer, binary_scores


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


def per_subset_scores(
    preds: Tensor, target: Tensor, subsets: Sequence[str] | np.ndarray, threshold: float = 0.5
) -> dict[str, float]:
    """Scores of each subset (a generator's test set, with its own reals), as AI-generated image detection reports
    them (GenImage, UnivFD): real accuracy, fake accuracy, their mean, and AP; plus the means over subsets.

    Args:
        preds: fake probabilities (N,) of images (or videos).
        target: labels (N,), 1 = fake.
        subsets: the subset of each sample (N,), for reals and fakes alike.
        threshold: a sample is called fake when its probability reaches it.

    Returns:
        ``real_acc_<s>``, ``fake_acc_<s>``, ``acc_<s>`` (the mean of the two, GenImage's accuracy), ``ap_<s>`` for
        every subset ``s`` (nan for a class a subset lacks), and ``mean_acc``, ``mean_ap`` over subsets.

    Example:
        >>> import torch
        >>> preds, target = torch.tensor([0.1, 0.8, 0.6, 0.7]), torch.tensor([0, 1, 0, 1])
        >>> scores = per_subset_scores(preds, target, ["a", "a", "b", "b"])
        >>> {k: round(v, 3) for k, v in scores.items() if k.startswith(("acc", "mean_acc"))}
        {'acc_a': 1.0, 'acc_b': 0.5, 'mean_acc': 0.75}
    """
    preds, target = preds.reshape(-1).float(), target.reshape(-1).long()
    subsets = np.asarray(subsets, dtype=object).reshape(-1)
    if not len(subsets) == len(preds) == len(target):
        raise ValueError(f"preds, target and subsets differ in length: {len(preds)}, {len(target)}, {len(subsets)}")
    called = (preds >= threshold).long()
    out: dict[str, float] = {}
    accs, aps = [], []
    for subset in sorted({str(s) for s in subsets}):
        mask = torch.as_tensor(subsets == subset, device=preds.device)
        p, y, c = preds[mask], target[mask], called[mask]
        real = float((c[y == 0] == 0).float().mean()) if (y == 0).any() else float("nan")
        fake = float((c[y == 1] == 1).float().mean()) if (y == 1).any() else float("nan")
        ap = float(binary_scores(p, y)["ap"])
        out.update({f"real_acc_{subset}": real, f"fake_acc_{subset}": fake, f"acc_{subset}": (real + fake) / 2})
        out[f"ap_{subset}"] = ap
        accs.append((real + fake) / 2)
        aps.append(ap)
    out["mean_acc"] = float(np.nanmean(accs)) if accs and not np.isnan(accs).all() else float("nan")
    out["mean_ap"] = float(np.nanmean(aps)) if aps and not np.isnan(aps).all() else float("nan")
    return out
