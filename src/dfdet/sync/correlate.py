"""Audio-visual offset by cross-correlation: mouth opening per frame against the speech-band energy envelope.

Both tracks are high-passed (a centred moving average of ``highpass`` frames subtracted), the envelope floored at its
20th percentile (so background-noise flicker in pauses carries no weight), and cut into windows of ``window`` video
frames every ``hop`` frames. In each window the Pearson correlation of the mouth track with the envelope read
``lag`` frames later is computed for every lag in ``[-max_lag, max_lag]`` (the same video frames for every lag),
giving one curve per window; the video's curve is their median, which keeps a few odd windows (a breath with the mouth
open, a laugh) from moving the estimate. The offset is the best lag; the confidence is the curve's peak above its
median (SyncNet's confidence, Chung & Zisserman 2016, on a correlation instead of a distance).

Sign: a positive offset means the sound comes after the lips (in real speech the lips lead by about 0-100 ms); an
audio track delayed by ``k`` frames adds ``k``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

LEAD_S = 0.08  # how far lips typically lead the sound, seconds (centre of the sync score's prior)
LEAD_TOLERANCE_S = 0.08  # width of that prior, seconds


@dataclass
class SyncEstimate:
    """The estimate of one span (a video or one window).

    Attributes:
        offset: frames by which the sound comes after the lips (best lag).
        confidence: peak of the correlation curve above its median.
        correlation: the curve's peak (Pearson correlation).
        start, end: the span in seconds of video time.
        curve: (2 * max_lag + 1,) correlation per lag, lags ``-max_lag .. max_lag``.
    """

    offset: int
    confidence: float
    correlation: float
    start: float
    end: float
    curve: np.ndarray = field(repr=False)

    def as_dict(self, fps: float) -> dict:
        return {"start": round(self.start, 3), "end": round(self.end, 3), "offset_frames": self.offset,
                "offset_s": round(self.offset / fps, 4), "confidence": round(self.confidence, 4),
                "correlation": round(self.correlation, 4)}  # fmt: skip


def highpass(x: np.ndarray, frames: int) -> np.ndarray:
    """``x`` minus its centred moving average over ``frames`` frames (edges padded); 0 or 1: minus its mean."""
    x = np.asarray(x, np.float64)
    if frames <= 1 or len(x) < 2:
        return x - x.mean()
    k = int(frames) | 1
    return x - np.convolve(np.pad(x, k // 2, mode="edge"), np.ones(k) / k, mode="valid")


def _zscore_rows(x: np.ndarray) -> np.ndarray:
    x = x - x.mean(axis=-1, keepdims=True)
    norm = np.sqrt((x * x).sum(axis=-1, keepdims=True))
    return np.divide(x, norm, out=np.zeros_like(x), where=norm > 1e-12)


def window_curves(
    mouth: np.ndarray, envelope: np.ndarray, max_lag: int, window: int, hop: int
) -> tuple[np.ndarray, np.ndarray]:
    """Correlation curves of each window.

    Args:
        mouth: (T,) mouth opening per frame (high-passed).
        envelope: (T,) speech envelope per frame (high-passed), the same frames.
        max_lag: lags ``-max_lag .. max_lag`` frames.
        window: frames per window; longer than the usable span: one window over it.
        hop: frames between window starts.

    Returns:
        ``curves`` (W, 2 * max_lag + 1) and ``starts`` (W,) first frame of each window.

    Raises:
        ValueError: fewer than ``2 * max_lag + 8`` frames.
    """
    n = len(mouth)
    usable = n - 2 * max_lag
    if usable < 8:
        raise ValueError(f"{n} frames are too few for lags of ±{max_lag} frames (need {2 * max_lag + 8})")
    window = min(window, usable)
    starts = np.arange(max_lag, n - max_lag - window + 1, max(1, hop))
    lags = np.arange(-max_lag, max_lag + 1)
    m = _zscore_rows(np.stack([mouth[s : s + window] for s in starts]))  # (W, L)
    e = np.stack([np.stack([envelope[s + lag : s + lag + window] for lag in lags]) for s in starts])  # (W, lags, L)
    return np.einsum("wl,wkl->wk", m, _zscore_rows(e)), starts


def summarise(curve: np.ndarray, start: float, end: float) -> SyncEstimate:
    """The estimate a correlation curve gives."""
    max_lag = (len(curve) - 1) // 2
    best = int(np.argmax(curve))
    peak = float(curve[best])
    return SyncEstimate(best - max_lag, peak - float(np.median(curve)), peak, start, end, curve)


def sync_score(curve: np.ndarray, fps: float, lead_s: float = LEAD_S, tolerance_s: float = LEAD_TOLERANCE_S) -> float:
    """How well the lips agree with the voice at natural timing: the curve above its median, weighted by a Gaussian
    prior on the lag (centred on the lips leading by ``lead_s``, width ``tolerance_s``), at its best lag.

    A copy of an in-sync video whose sound is shifted by a few frames scores lower than the original; the offset
    alone says how far and which way.
    """
    max_lag = (len(curve) - 1) // 2
    lags_s = np.arange(-max_lag, max_lag + 1) / fps
    prior = np.exp(-0.5 * ((lags_s - lead_s) / tolerance_s) ** 2)
    return float(np.max((curve - np.median(curve)) * prior))


def estimate_offset(
    mouth: np.ndarray,
    envelope: np.ndarray,
    fps: float,
    max_lag: int = 15,
    window_s: float = 3.0,
    hop_s: float = 0.5,
    highpass_s: float = 2.0,
    valid: np.ndarray | None = None,
) -> tuple[SyncEstimate, list[SyncEstimate]]:
    """The offset of a whole video and of each window.

    Args:
        mouth: (T,) mouth opening per frame.
        envelope: (T,) speech-band log energy per frame (:func:`dfdet.data.audio.dsp.speech_envelope`).
        fps: frame rate.
        max_lag: lags searched, frames each way.
        window_s, hop_s: window length and step, seconds.
        highpass_s: span of the moving average subtracted from both tracks, seconds.
        valid: (T,) bool, frames with a face; windows with fewer than half their frames valid are skipped
            (invalid frames are filled by interpolation first).

    Returns:
        ``(video, windows)``: the estimate over the whole video (median of the window curves) and per window.
    """
    mouth = np.asarray(mouth, np.float64)
    valid = np.ones(len(mouth), bool) if valid is None else np.asarray(valid, bool)
    if valid.sum() < 2:
        raise ValueError("no face was found in enough frames to measure the lips")
    idx = np.arange(len(mouth))
    mouth = np.interp(idx, idx[valid], mouth[valid])
    env = np.asarray(envelope, np.float64)
    env = np.maximum(env, np.percentile(env, 20))
    k = max(1, round(highpass_s * fps))
    window, hop = max(8, round(window_s * fps)), max(1, round(hop_s * fps))
    curves, starts = window_curves(highpass(mouth, k), highpass(env, k), max_lag, window, hop)
    span = min(window, len(mouth) - 2 * max_lag)
    keep = np.array([valid[s : s + span].mean() >= 0.5 for s in starts])
    if not keep.any():
        raise ValueError("no window has a face in at least half of its frames")
    windows = [summarise(c, s / fps, (s + span) / fps) for c, s in zip(curves[keep], starts[keep], strict=True)]
    video = summarise(np.median(curves[keep], axis=0), windows[0].start, windows[-1].end)
    return video, windows
