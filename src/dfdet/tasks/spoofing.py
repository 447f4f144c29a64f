"""The anti-spoofing challenge metrics of an audio evaluation (see :mod:`dfdet.metrics.spoofing`), from the test
rows the detector kept, the manifest's condition columns and the ASV scores the release ships."""

from __future__ import annotations

import numpy as np

from dfdet.data.datamodule import DeepfakeDataModule
from dfdet.errors import ManifestError
from dfdet.metrics.spoofing import CONDITION_COLUMNS, asv_errors, challenge_metrics
from dfdet.models import DeepfakeDetector
from dfdet.tasks.common import log


def spoofing_metrics(model: DeepfakeDetector, datamodule: DeepfakeDataModule, split: str) -> dict[str, float]:
    """``<split>/min_dcf``, ``<split>/act_dcf``, ``<split>/eer_official``, ``<split>/eer_codec_<c>`` (a ``codec``
    column), ``<split>/eer_vocoder_<v>`` (a ``vocoder`` column) and ``<split>/min_tdcf`` when the source finds the
    release's ASV scores (its ``asv_scores(split)``), over the utterances of the last test epoch."""
    rows = model.predictions["test"]
    p, y = rows["preds"].numpy(), rows["target"].numpy()
    index = rows["video_idx"].numpy()
    conditions = {}
    for column in CONDITION_COLUMNS:
        values = datamodule.per_video(column)
        if values is not None:
            conditions[column] = values[index]
    asv, legacy = None, False
    source = datamodule.source
    find = getattr(source, "asv_scores", None)
    scores = find(split) if find is not None else None
    if scores is not None:
        try:
            asv = asv_errors(*scores)
        except ValueError as exc:
            raise ManifestError(
                f"{type(source).__name__}: the release's ASV scores cannot give a t-DCF ({exc})"
            ) from exc
        legacy = getattr(source, "tdcf_legacy", False)
        log.info("min t-DCF (%s) with the release's ASV scores: Pfa %.4f, Pmiss %.4f, Pfa_spoof %.4f at %.4g",
                 "ASVspoof 2019 plan" if legacy else "revised", asv.pfa, asv.pmiss, asv.pfa_spoof,
                 asv.threshold)  # fmt: skip
    try:
        metrics = challenge_metrics(p, y, conditions, asv, legacy_tdcf=legacy)
    except ValueError as exc:  # t-DCF weights that are not positive: ASV scores that do not fit the cost model
        raise ManifestError(f"{type(source).__name__}: {exc}") from exc
    return {f"{split}/{k}": float(v) for k, v in metrics.items() if not (k == "min_tdcf" and np.isnan(v))}
