"""Audio-visual late fusion: the fused score (:func:`late_fusion`, used by prediction too) and its evaluation.

``evaluate.py ... audio_ckpt_path=AUDIO.ckpt`` scores the sound track of every evaluated video with an audio
detector and reports audio-only and fused metrics beside the face model's video-level ones (see docs/audio.md).
Only numpy is imported at module level: the ONNX predictor imports :func:`late_fusion` without torch metrics,
pandas or matplotlib.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

SWEEP_WEIGHTS = tuple(round(w, 1) for w in np.linspace(0.0, 1.0, 11))
THRESHOLDED = ("acc", "precision", "recall", "f1")


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


def fusion_table(videos: pd.DataFrame, audio: pd.DataFrame, audio_weight: float) -> pd.DataFrame:
    """Per-video visual, audio and fused scores.

    Args:
        videos: ``video``, ``label``, ``score`` (the face model's video-level fake probability).
        audio: the same videos in the same order: ``file``, ``audio_score`` (NaN without a usable sound track),
            ``audio_status`` (see :func:`dfdet.models.scoring.score_sound_tracks`).
        audio_weight: weight of the audio score in the fusion.

    Returns:
        Columns ``video``, ``file``, ``label``, ``video_score``, ``audio_score``, ``fused_score``, ``audio_status``.
    """
    import pandas as pd

    if len(videos) != len(audio):
        raise ValueError(f"{len(videos)} videos but {len(audio)} audio rows")
    table = pd.DataFrame(
        {
            "video": videos["video"].to_numpy(),
            "file": audio["file"].to_numpy(),
            "label": videos["label"].to_numpy().astype(int),
            "video_score": videos["score"].to_numpy(dtype=np.float64),
            "audio_score": audio["audio_score"].to_numpy(dtype=np.float64),
        }
    )
    table["fused_score"] = late_fusion(table["video_score"].to_numpy(), table["audio_score"].to_numpy(), audio_weight)
    table["audio_status"] = audio["audio_status"].to_numpy()
    return table


def _scores(preds: np.ndarray, target: np.ndarray, thresholds: np.ndarray | float) -> dict[str, float]:
    """The shared metric set; the thresholded ones use a threshold per sample (``preds > thresholds``)."""
    import torch

    from dfdet.metrics.functional import binary_scores

    target_t = torch.tensor(target, dtype=torch.long)
    out = {k: float(v) for k, v in binary_scores(torch.tensor(preds, dtype=torch.float64), target_t).items()}
    calls = torch.tensor(preds > thresholds, dtype=torch.float64)
    out.update({k: float(v) for k, v in binary_scores(calls, target_t).items() if k in THRESHOLDED})
    return out


def fusion_metrics(
    table: pd.DataFrame, video_threshold: float, audio_threshold: float, audio_weight: float
) -> dict[str, float]:
    """Audio-only metrics over the videos with a usable sound track, and fused metrics over all videos.

    A video is called fake when its fused score is above the same fusion of the two models' thresholds (each chosen
    on its own validation set), i.e. above the face threshold alone when it has no usable track.

    Returns:
        ``audio_<metric>`` and ``av_<metric>`` for the shared set (``acc``, ``precision``, ``recall``, ``f1``,
        ``auc``, ``ap``, ``eer``, ``logloss``), ``av_threshold`` (the fused threshold of videos with sound),
        ``audio_weight``, ``videos`` and ``videos_with_audio``.
    """
    label = table["label"].to_numpy()
    audio = table["audio_score"].to_numpy()
    has_audio = ~np.isnan(audio)
    thresholds = late_fusion(
        np.full(len(table), video_threshold), np.where(has_audio, audio_threshold, np.nan), audio_weight
    )
    nan_set = {f"audio_{k}": float("nan") for k in (*THRESHOLDED, "auc", "ap", "eer", "logloss")}
    audio_metrics = (
        {f"audio_{k}": v for k, v in _scores(audio[has_audio], label[has_audio], audio_threshold).items()}
        if has_audio.any()
        else nan_set
    )
    fused = {f"av_{k}": v for k, v in _scores(table["fused_score"].to_numpy(), label, thresholds).items()}
    return {
        **audio_metrics,
        **fused,
        "av_threshold": float(late_fusion(video_threshold, audio_threshold, audio_weight)),
        "audio_weight": float(audio_weight),
        "videos": float(len(table)),
        "videos_with_audio": float(has_audio.sum()),
    }


def weight_sweep(table: pd.DataFrame, weights: tuple[float, ...] = SWEEP_WEIGHTS) -> pd.DataFrame:
    """Threshold-free fused metrics (``auc``, ``ap``, ``eer``) for each audio weight, over all videos.

    Weight 0 is the face model alone. Choose the weight on the validation split (``evaluate.py split=val``), then
    evaluate the test split with ``fusion.audio_weight`` set to it.
    """
    import pandas as pd
    import torch

    from dfdet.metrics.functional import binary_scores

    label = torch.tensor(table["label"].to_numpy(), dtype=torch.long)
    rows = []
    for w in weights:
        fused = late_fusion(table["video_score"].to_numpy(), table["audio_score"].to_numpy(), w)
        scores = binary_scores(torch.tensor(fused, dtype=torch.float64), label)
        rows.append({"audio_weight": w, **{k: float(scores[k]) for k in ("auc", "ap", "eer")}})
    return pd.DataFrame(rows)


def save_fusion_roc(table: pd.DataFrame, path: Path, title: str = "") -> Path:
    """ROC curves of the face score, the audio score (videos with sound) and the fused score, in one figure."""
    from dfdet.metrics.report import save_roc

    sound = table[table["audio_score"].notna()]
    curves = [
        ("video", table["label"], table["video_score"]),
        (f"audio ({len(sound)} with sound)", sound["label"], sound["audio_score"]),
        ("fused", table["label"], table["fused_score"]),
    ]
    return save_roc(curves, path, title=f"{title} audio-visual ROC")
