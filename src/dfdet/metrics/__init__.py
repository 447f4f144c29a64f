"""Frame- and video-level metrics for deepfake detection (probabilities in, 1 = fake)."""

from dfdet.metrics.detection import DetectionMetrics
from dfdet.metrics.functional import (
    AGGREGATION_METHODS,
    aggregate_by_video,
    binary_eer,
    binary_eer_threshold,
    binary_scores,
)

__all__ = [
    "AGGREGATION_METHODS",
    "DetectionMetrics",
    "aggregate_by_video",
    "binary_eer",
    "binary_eer_threshold",
    "binary_scores",
]
