"""Late fusion of a video's face score and its sound track's score (numpy only: the ONNX predictor uses it too)."""

from __future__ import annotations

import numpy as np


def late_fusion(
    video_score: float | np.ndarray, audio_score: float | np.ndarray | None, audio_weight: float = 0.5
) -> float | np.ndarray:
    """Weighted mean of a video's visual and audio fake probabilities (scalars or arrays of videos).

    Args:
        video_score: fake probability from the face model (e.g. the mean over frames).
        audio_score: fake probability of the sound track; None or NaN (no usable track) keeps ``video_score``.
        audio_weight: weight of the audio score in [0, 1].

    Returns:
        ``(1 - audio_weight) * video_score + audio_weight * audio_score``, a float for scalar inputs.
    """
    if not 0.0 <= audio_weight <= 1.0:
        raise ValueError(f"audio_weight must be in [0, 1], got {audio_weight}")
    video = np.asarray(video_score, dtype=np.float64)
    audio = np.asarray(np.nan if audio_score is None else audio_score, dtype=np.float64)
    fused = np.where(np.isnan(audio), video, (1.0 - audio_weight) * video + audio_weight * audio)
    return float(fused) if fused.ndim == 0 else fused
