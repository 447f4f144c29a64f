"""Frame- and video-level metrics for deepfake detection (probabilities in, 1 = fake).

Names are imported lazily, so that the ONNX predictor can use :func:`~dfdet.metrics.fusion.late_fusion` without
importing torchmetrics.
"""

from __future__ import annotations

from dfdet.utils.lazy import lazy_exports

_EXPORTS = {
    "DetectionMetrics": "dfdet.metrics.detection",
    "AGGREGATION_METHODS": "dfdet.metrics.functional",
    "aggregate_by_video": "dfdet.metrics.functional",
    "binary_eer": "dfdet.metrics.functional",
    "binary_eer_threshold": "dfdet.metrics.functional",
    "binary_scores": "dfdet.metrics.functional",
    "late_fusion": "dfdet.metrics.fusion",
    "localisation_metrics": "dfdet.metrics.localisation",
    "segments_from_scores": "dfdet.metrics.localisation",
    "per_attack_eer": "dfdet.metrics.per_attack",
}
__all__ = sorted(_EXPORTS)


__getattr__ = lazy_exports(__name__, _EXPORTS)
