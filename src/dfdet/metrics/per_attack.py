"""Per-attack equal error rates: each attack (spoofing system, manipulation method) against all real samples.

:class:`~dfdet.metrics.DetectionMetrics` reports them as ``<stage>/eer_<attack>`` when the data names each item's
method; the pooled EER is in the shared set (``test/eer``). For audio, frame level is utterance level.
"""

from __future__ import annotations

from collections.abc import Sequence

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
