"""Silence: where speech starts and ends in a sound track, trimming to it, and the silence shortcut audit.

The trap (Müller et al., "Speech is Silver, Silence is Golden: What do ASVspoof-trained Models Really Learn?", 2021):
in ASVspoof 2019 LA the length of the leading silence alone separates bona fide from spoofed speech, and
audio-visual sets (FakeAVCeleb, AV-Deepfake1M) show the same with leading/trailing silence and loudness, because fakes
are cut and normalised differently from the recordings. A detector learns that instead of the artefacts.

- :func:`speech_span`: the non-silent part, as ``librosa.effects.trim`` defines it: the first and last 25 ms frame
  whose RMS is within ``top_db`` of the loudest frame's;
- :func:`silence_features`: leading and trailing silence (s), duration (s), loudness of the whole track and of its
  speech (RMS dBFS) and peak level (dBFS);
- :func:`silence_audit`: the AUC of each feature alone as a real-vs-fake score (``max(auc, 1 - auc)``, the machinery of
  the image format audit, :func:`dfdet.data.images.audit.feature_auc`); ``train.py`` warns above 0.7;
- :func:`trim_silence`: the evaluation variant without it (``data.trim_silence=true``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TOP_DB = 40.0  # silence: frames quieter than the loudest frame by more than this (dB)
FRAME_S, HOP_S = 0.025, 0.010
FEATURES = ("leading_silence", "trailing_silence", "duration", "loudness", "speech_loudness", "peak")


def _db(x: float) -> float:
    return float(20 * np.log10(max(x, 1e-10)))


def speech_span(wave: np.ndarray, sample_rate: int, top_db: float = TOP_DB) -> tuple[int, int]:
    """First and end sample of the non-silent part of ``wave`` (T,); ``(0, 0)`` for a silent or empty track."""
    wave = np.asarray(wave, np.float64)
    frame, hop = max(1, round(FRAME_S * sample_rate)), max(1, round(HOP_S * sample_rate))
    if len(wave) == 0:
        return 0, 0
    padded = np.pad(wave, (0, max(0, frame - len(wave))))
    frames = np.lib.stride_tricks.sliding_window_view(padded, frame)[::hop]
    rms = np.sqrt((frames**2).mean(axis=1))
    if rms.max() <= 1e-8:
        return 0, 0
    loud = np.flatnonzero(20 * np.log10(np.maximum(rms, 1e-10) / rms.max()) > -top_db)
    return int(loud[0] * hop), int(min(len(wave), loud[-1] * hop + frame))


def trim_silence(wave: np.ndarray, sample_rate: int, top_db: float = TOP_DB) -> np.ndarray:
    """``wave`` without its leading and trailing silence (a silent track is returned whole)."""
    start, end = speech_span(wave, sample_rate, top_db)
    return wave[start:end] if end > start else wave


def silence_features(wave: np.ndarray, sample_rate: int, top_db: float = TOP_DB) -> dict[str, float]:
    """The trivial features of one sound track (:data:`FEATURES`): seconds and dBFS."""
    wave = np.asarray(wave, np.float64)
    start, end = speech_span(wave, sample_rate, top_db)
    speech = wave[start:end] if end > start else wave
    rms = float(np.sqrt(np.mean(wave**2))) if len(wave) else 0.0
    return {
        "leading_silence": start / sample_rate,
        "trailing_silence": (len(wave) - end) / sample_rate if end > start else 0.0,
        "duration": len(wave) / sample_rate,
        "loudness": _db(rms),
        "speech_loudness": _db(float(np.sqrt(np.mean(speech**2))) if len(speech) else 0.0),
        "peak": _db(float(np.abs(wave).max()) if len(wave) else 0.0),
    }


def sound_files(manifest: pd.DataFrame) -> pd.DataFrame:
    """One row per sound track: ``file``, ``label`` and ``video`` (a video's sound track, or an audio file).

    Utterance manifests list the files; frame manifests of videos name each frame's video in ``source_path`` (rows
    without it are skipped); face crops without it have no sound (no rows)."""
    if "source_path" in manifest.columns:
        rows = manifest.dropna(subset=["source_path"]).drop_duplicates("source_path")
        files = rows["source_path"].astype(str).to_numpy()
        return pd.DataFrame({"file": files, "label": rows["label"].astype(int).to_numpy(), "video": True})
    if "frame_index" in manifest.columns and "utt_id" not in manifest.columns:
        return pd.DataFrame({"file": [], "label": [], "video": []})  # face crops: no sound
    files = manifest["path"].astype(str).to_numpy()
    return pd.DataFrame({"file": files, "label": manifest["label"].astype(int).to_numpy(), "video": False})


def silence_audit(
    manifest: pd.DataFrame, max_items: int | None = 200, seed: int = 0, top_db: float = TOP_DB
) -> dict[str, float]:
    """AUC of each silence/loudness feature alone at telling fakes from reals, over the whole manifest.

    Args:
        manifest: utterance rows (``path``, ``label``) or frame rows of videos with ``source_path``.
        max_items: audit a random sample of at most this many sound tracks per class; None: all of them.
        seed: the sample's seed.
        top_db: the silence threshold.

    Returns:
        ``{feature: auc}`` for :data:`FEATURES`; empty without sound tracks of both classes. Videos without sound
        are left out.
    """
    from dfdet.data.audio.io import NoAudioTrackError, extract_audio_track, load_audio
    from dfdet.data.images.audit import feature_auc

    files = sound_files(manifest).reset_index(drop=True)
    if files.empty or files["label"].nunique() < 2:
        return {}
    if max_items is not None:
        rng = np.random.default_rng(seed)
        keep = [rng.permutation(np.flatnonzero(files["label"] == c))[:max_items] for c in (0, 1)]
        files = files.iloc[np.sort(np.concatenate(keep))]
    rows, labels = [], []
    for file, label, video in zip(files["file"], files["label"], files["video"], strict=True):
        try:
            wave = extract_audio_track(file, 16000) if video else load_audio(file, 16000)
            rows.append(silence_features(wave, 16000, top_db))
        except NoAudioTrackError:
            continue
        labels.append(label)
    if len(set(labels)) < 2:
        return {}
    feats = pd.DataFrame(rows)
    return {name: feature_auc(feats[name], np.asarray(labels)) for name in FEATURES}


def warn_if_silence_shortcut(aucs: dict[str, float], threshold: float = 0.7, where: str = "the data") -> list[str]:
    """Logs one warning paragraph naming every feature whose AUC exceeds ``threshold``; returns their names."""
    from dfdet.data.images.audit import warn_if_shortcut

    return warn_if_shortcut(aucs, threshold, where, SILENCE_SHORTCUT)


SILENCE_SHORTCUT = (
    "Silence shortcut",
    "real and fake sound tracks differ in silence or loudness alone",
    "A detector can learn this instead of the fakes' artefacts; evaluate on the silence-trimmed variant too "
    "(data.trim_silence=true, docs/audio_visual.md).",
)
