"""Energy-based voice activity detection (numpy only, so the ONNX predictor can use it).

Silence is a known shortcut of anti-spoofing data: in ASVspoof 2019 LA the length of the leading and trailing
silence alone separates bona fide from spoofed utterances far better than chance (Müller et al. 2021, "Speech is
silver, silence is golden: what do ASVspoof-trained models really learn?"). A detector scoring a long recording
should therefore say nothing about stretches without speech, and a recording without speech is not one it applies to.

The method, written plainly:

1. Frames of ``frame_ms`` every ``hop_ms``; each frame's level in dBFS (its RMS, with a -100 dB floor).
2. A recording whose frames all lie below ``min_level_db`` holds no speech.
3. The noise floor is a low percentile of the frame levels and the speech level a high one. When the two are within
   ``min_range_db``, the recording is one steady level: speech throughout if it is above ``min_level_db`` (a
   recording without pauses), else silence. Otherwise a frame is speech when it is above
   ``floor + threshold * (speech level - floor)`` and above ``min_level_db``.
4. Smoothing as a hangover would: gaps shorter than ``min_gap_ms`` between speech frames are filled, then speech
   runs shorter than ``min_speech_ms`` are dropped.

This is a level detector: loud non-speech (music, noise bursts) counts as speech. It needs no model and no new
dependency; for noisy field recordings a trained VAD would do better.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class EnergyVAD:
    """Energy-based voice activity detection (see the module docstring for the method).

    Args:
        frame_ms, hop_ms: analysis frame length and step.
        min_level_db: frames below this level (dBFS) are never speech.
        min_range_db: a smaller spread between the noise floor and the speech level means one steady level.
        threshold: where between the noise floor (0) and the speech level (1) a frame becomes speech.
        floor_percentile, speech_percentile: the percentiles of the frame levels taken as noise floor and speech level.
        min_gap_ms: shorter pauses inside speech are filled.
        min_speech_ms: shorter speech runs are dropped.
    """

    frame_ms: float = 30.0
    hop_ms: float = 10.0
    min_level_db: float = -55.0
    min_range_db: float = 12.0
    threshold: float = 0.3
    floor_percentile: float = 10.0
    speech_percentile: float = 95.0
    min_gap_ms: float = 200.0
    min_speech_ms: float = 120.0

    def frame_levels(self, wave: np.ndarray, sample_rate: int) -> tuple[np.ndarray, int]:
        """Each frame's RMS level in dBFS, and the hop in samples."""
        frame = max(1, round(self.frame_ms * sample_rate / 1000))
        hop = max(1, round(self.hop_ms * sample_rate / 1000))
        x = np.asarray(wave, np.float64).ravel()
        if len(x) < frame:
            x = np.pad(x, (0, frame - len(x)))
        starts = np.arange(0, len(x) - frame + 1, hop)
        energy = np.concatenate([[0.0], np.cumsum(x**2)])
        power = (energy[starts + frame] - energy[starts]) / frame
        return 10 * np.log10(np.maximum(power, 1e-10)), hop

    def frames(self, wave: np.ndarray, sample_rate: int) -> tuple[np.ndarray, int]:
        """The speech mask of the frames (bool, one per hop) and the hop in samples."""
        levels, hop = self.frame_levels(wave, sample_rate)
        if levels.max() < self.min_level_db:
            return np.zeros(len(levels), bool), hop
        floor = np.percentile(levels, self.floor_percentile)
        speech_level = np.percentile(levels, self.speech_percentile)
        if speech_level - floor < self.min_range_db:
            speech = levels >= self.min_level_db
        else:
            speech = (levels > floor + self.threshold * (speech_level - floor)) & (levels >= self.min_level_db)
        frames_per_ms = 1000 / (hop * 1000 / sample_rate)
        speech = _fill_gaps(speech, round(self.min_gap_ms * frames_per_ms / 1000))
        return _drop_short(speech, round(self.min_speech_ms * frames_per_ms / 1000)), hop

    def mask(self, wave: np.ndarray, sample_rate: int) -> np.ndarray:
        """A per-sample speech mask (bool, the length of ``wave``): each frame's decision covers its hop."""
        speech, hop = self.frames(wave, sample_rate)
        out = np.repeat(speech, hop)[: len(wave)]
        if len(out) < len(wave):  # the tail after the last full frame follows the last frame
            out = np.concatenate([out, np.full(len(wave) - len(out), bool(speech[-1]) if speech.size else False)])
        return out

    def regions(self, wave: np.ndarray, sample_rate: int) -> list[tuple[float, float]]:
        """The speech regions as ``(start, end)`` in seconds."""
        mask = self.mask(wave, sample_rate)
        edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
        return [(int(s) / sample_rate, int(e) / sample_rate) for s, e in zip(edges[::2], edges[1::2], strict=True)]


def _runs(mask: np.ndarray, value: bool) -> list[tuple[int, int]]:
    """(start, end) of the runs of ``value`` in ``mask``."""
    padded = np.concatenate([[not value], mask, [not value]])
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return [(int(s), int(e)) for s, e in zip(edges[::2], edges[1::2], strict=True)]


def _fill_gaps(speech: np.ndarray, shortest: int) -> np.ndarray:
    out = speech.copy()
    for start, end in _runs(speech, False):
        if start > 0 and end < len(speech) and end - start < shortest:  # a pause inside speech, not at the edges
            out[start:end] = True
    return out


def _drop_short(speech: np.ndarray, shortest: int) -> np.ndarray:
    out = speech.copy()
    for start, end in _runs(speech, True):
        if end - start < shortest:
            out[start:end] = False
    return out
