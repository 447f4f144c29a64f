"""Scoring waveforms of any length and the sound track of videos."""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn

from dfdet.data.audio.crops import windows
from dfdet.data.audio.io import NoAudioTrackError, extract_audio_track
from dfdet.errors import ManifestError

log = logging.getLogger("dfdet")


@torch.no_grad()
def score_waveform(model: nn.Module, wave: np.ndarray, num_samples: int, hop: int | None = None) -> float:
    """Fake probability of a waveform of any length: the mean over fixed-length windows.

    Args:
        model: maps (B, num_samples) waveforms to (B,) or (B, 1) fake logits (a ``DeepfakeDetector`` or a bare net),
            in eval mode.
        wave: mono waveform (T,) at the model's rate.
        num_samples: window length (the model's ``input.num_samples``); a shorter waveform is repeat-padded.
        hop: window hop; ``num_samples`` (no overlap) when None.

    Returns:
        The mean of the windows' sigmoid probabilities, in [0, 1].
    """
    crops, starts = windows(wave, num_samples, hop)
    param = next(model.parameters(), None)
    x = torch.from_numpy(crops).to(param.device if param is not None else "cpu")
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


def score_sound_tracks(
    model: nn.Module, paths: Sequence[str | os.PathLike], num_samples: int, sample_rate: int = 16000
) -> pd.DataFrame:
    """Scores the sound track of every video; a video without one, or with an undecodable one, is kept and marked.

    Args:
        model: an audio detector in eval mode (see :func:`score_waveform`).
        paths: video files.
        num_samples: the model's window length.
        sample_rate: the model's rate in Hz.

    Returns:
        One row per path, in order: ``file``, ``audio_score`` (fake probability; NaN without a usable track),
        ``audio_status`` (``ok``, ``no audio track``, or the decoding error).
    """
    scores, statuses = [], []
    for path in paths:
        try:
            scores.append(score_video_audio(model, path, num_samples, sample_rate))
            statuses.append("ok")
        except NoAudioTrackError:
            scores.append(float("nan"))
            statuses.append("no audio track")
        except ManifestError as exc:
            log.warning("%s", exc)
            scores.append(float("nan"))
            statuses.append(str(exc))
    return pd.DataFrame({"file": [str(p) for p in paths], "audio_score": scores, "audio_status": statuses})
