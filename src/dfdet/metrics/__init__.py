"""Frame- and video-level metrics for deepfake detection (probabilities in, 1 = fake)."""

from dfdet.metrics.binary import FRAME_METRIC_KEYS, VIDEO_METRIC_KEYS, BinaryEER, VideoMetrics, build_frame_metrics
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
    "FRAME_METRIC_KEYS",
    "VIDEO_METRIC_KEYS",
    "BinaryEER",
    "DetectionMetrics",
    "VideoMetrics",
    "aggregate_by_video",
    "binary_eer",
    "binary_eer_threshold",
    "binary_scores",
    "build_frame_metrics",
]
