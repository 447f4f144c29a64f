"""Scoring waveforms of any length, the sound track of videos, and late fusion with a video score."""

from __future__ import annotations

import os

import numpy as np
import torch
from torch import nn

from dfdet.audio.datasets import repeat_pad
from dfdet.audio.io import extract_audio_track


@torch.no_grad()
def score_waveform(model: nn.Module, wave: np.ndarray, num_samples: int, hop: int | None = None) -> float:
    """Fake probability of a waveform of any length: the mean over fixed-length windows.

    Args:
        model: maps (B, num_samples) waveforms to (B,) or (B, 1) fake logits (a ``DeepfakeDetector`` or a bare net),
            in eval mode.
        wave: mono waveform (T,) at the model's rate.
        num_samples: window length (the model's ``image_size``); a shorter waveform is repeat-padded.
        hop: window hop; ``num_samples`` (no overlap) when None.

    Returns:
        The mean of the windows' sigmoid probabilities, in [0, 1].
    """
    wave = repeat_pad(np.asarray(wave, dtype=np.float32), num_samples)
    hop = hop or num_samples
    starts = list(range(0, len(wave) - num_samples + 1, hop))
    windows = np.stack([wave[s : s + num_samples] for s in starts])
    param = next(model.parameters(), None)
    x = torch.from_numpy(windows).to(param.device if param is not None else "cpu")
    probs = torch.sigmoid(model(x).reshape(len(starts)).float())
    return float(probs.mean())


def score_video_audio(
    model: nn.Module, video_path: str | os.PathLike, num_samples: int, sample_rate: int = 16000
) -> float:
    """Fake probability of a video's sound track (mono, resampled to ``sample_rate``), see :func:`score_waveform`.

    Raises:
        NoAudioTrackError: the video has no audio stream.
    """
    return score_waveform(model, extract_audio_track(video_path, sample_rate), num_samples)


def late_fusion(video_score: float, audio_score: float | None, audio_weight: float = 0.5) -> float:
    """Weighted mean of a video's visual and audio fake probabilities.

    Args:
        video_score: fake probability from the face model (e.g. the mean over frames).
        audio_score: fake probability of the sound track; None (no audio track) returns ``video_score``.
        audio_weight: weight of the audio score in [0, 1].

    Returns:
        ``(1 - audio_weight) * video_score + audio_weight * audio_score``.
    """
    if not 0.0 <= audio_weight <= 1.0:
        raise ValueError(f"audio_weight must be in [0, 1], got {audio_weight}")
    if audio_score is None:
        return float(video_score)
    return float((1.0 - audio_weight) * video_score + audio_weight * audio_score)
