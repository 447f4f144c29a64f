"""Scoring a whole recording with an audio model: sliding windows over the file, voice activity so that silence is
not scored, the window scores with their times, the file score and the stretches that look spoofed (numpy only).

Each window of the model's length (every ``hop`` samples, the last one ending at the last sample) is scored when
at least ``min_speech`` of it is speech (:class:`~dfdet.data.audio.vad.EnergyVAD`); the others are listed with
``score: null``. The file score is the mean of the scored windows. A recording without a window of speech is
``no_speech``: the model does not apply to it (verdict ``not_applicable``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from dfdet.data.audio.crops import windows
from dfdet.data.audio.vad import EnergyVAD
from dfdet.predict.errors import MediaError
from dfdet.predict.scoring import sigmoid


def score_recording(
    wave: np.ndarray,
    sample_rate: int,
    length: int,
    logits: Callable[[np.ndarray], np.ndarray],
    hop: int | None = None,
    vad: EnergyVAD | None = None,
    min_speech: float = 0.5,
) -> dict[str, Any]:
    """Scores a recording window by window.

    Args:
        wave: the mono waveform (T,) at ``sample_rate``.
        sample_rate: its rate (the model's).
        length: the model's window in samples.
        logits: the model's (calibrated) logits of windows (N, length) -> (N,).
        hop: samples between window starts; None: ``length`` (no overlap).
        vad: the voice activity detector (:class:`~dfdet.data.audio.vad.EnergyVAD`); None: every window is scored.
        min_speech: the share of a window that must be speech for it to be scored.

    Returns:
        ``probability`` (the mean fake probability of the scored windows), ``windows`` (``start_s``, ``end_s``,
        ``speech`` share, ``score`` or None), ``duration_s``, ``speech_s``, ``speech_regions`` (``[start_s, end_s]``),
        ``windows_scored``.

    Raises:
        MediaError: ``no_speech`` when no window holds enough speech.
    """
    duration = len(wave) / sample_rate
    crops, starts = windows(wave, length, hop, cover_tail=True)
    mask = vad.mask(wave, sample_rate) if vad is not None else np.ones(len(wave), bool)
    short = len(wave) < length  # one repeat-padded window: the share of the recording itself
    shares = np.array([mask.mean()] if short else [mask[s : s + length].mean() for s in starts])
    scored = shares >= min_speech
    if not scored.any():
        speech = f"{mask.sum() / sample_rate:.1f} s of speech" if mask.any() else "no speech"
        raise MediaError(
            "no_speech",
            f"{speech} found in the {duration:.1f} s of audio (energy-based voice activity detection); no window of "
            f"{length / sample_rate:g} s is {min_speech:.0%} speech, so the model does not apply",
        )
    probs = np.full(len(starts), np.nan)
    probs[scored] = sigmoid(logits(crops[scored]))
    regions = vad.regions(wave, sample_rate) if vad is not None else [(0.0, duration)]
    return {
        "probability": float(probs[scored].mean()),
        "duration_s": round(duration, 3),
        "speech_s": round(float(mask.sum()) / sample_rate, 3),
        "speech_regions": [[round(a, 3), round(b, 3)] for a, b in regions],
        "windows_scored": int(scored.sum()),
        "windows": [
            {
                "start_s": round(s / sample_rate, 3),
                "end_s": round(min(s + length, max(len(wave), length)) / sample_rate, 3),
                "speech": round(float(share), 3),
                "score": None if np.isnan(p) else float(p),
            }
            for s, share, p in zip(starts, shares, probs, strict=True)
        ],
    }


def fake_regions(window_scores: list[dict[str, Any]], threshold: float) -> list[dict[str, Any]]:
    """The stretches of a recording whose windows look spoofed: consecutive (or overlapping) scored windows at or
    above ``threshold``, merged, each with its highest window score.

    Example:
        >>> w = [{"start_s": 0, "end_s": 1, "score": 0.9}, {"start_s": 1, "end_s": 2, "score": 0.8},
        ...      {"start_s": 2, "end_s": 3, "score": 0.1}, {"start_s": 3, "end_s": 4, "score": 0.7}]
        >>> fake_regions(w, 0.5)
        [{'start_s': 0, 'end_s': 2, 'max_score': 0.9}, {'start_s': 3, 'end_s': 4, 'max_score': 0.7}]
    """
    out: list[dict[str, Any]] = []
    for w in window_scores:
        if w["score"] is None or w["score"] < threshold:
            continue
        if out and w["start_s"] <= out[-1]["end_s"]:
            out[-1]["end_s"] = max(out[-1]["end_s"], w["end_s"])
            out[-1]["max_score"] = max(out[-1]["max_score"], w["score"])
        else:
            out.append({"start_s": w["start_s"], "end_s": w["end_s"], "max_score": w["score"]})
    return out
