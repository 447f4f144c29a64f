"""Shortcut audit: can spoofs be told from bona fide speech by level or average spectrum alone?

A dataset where loudness or the long-term average spectrum separates the classes teaches detectors nothing.
:func:`shortcut_aucs` fits a logistic regression on such global statistics of the training utterances and reports
its test AUC; a sound dataset keeps it near chance while a CNN on the spectrogram reaches a high AUC.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import soundfile as sf
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from dfdet.data.audio.dsp import stft


def global_features(path: str, bands: int = 16) -> np.ndarray:
    """Level and long-term spectrum of one file, shape (3 + bands,).

    Features: log RMS energy, log peak level, spectral centroid (kHz) and the mean log power in ``bands`` equal-width
    bands (the long-term average spectrum, LTAS).
    """
    x, sr = sf.read(path, dtype="float32", always_2d=True)
    x = x.mean(axis=1)
    power = np.abs(stft(x, 512, 256)) ** 2
    freqs = np.linspace(0, sr / 2, power.shape[1])
    ltas = power.mean(axis=0)
    band_db = [10 * np.log10(part.mean() + 1e-12) for part in np.array_split(ltas, bands)]
    centroid = float((ltas * freqs).sum() / (ltas.sum() + 1e-12)) / 1000
    level = [10 * np.log10(np.mean(x**2) + 1e-12), 20 * np.log10(np.abs(x).max() + 1e-12), centroid]
    return np.asarray(level + band_db, dtype=np.float64)


def shortcut_aucs(manifest: pd.DataFrame) -> dict[str, float]:
    """Test AUCs of shortcut classifiers trained on the train split.

    Args:
        manifest: rows with absolute ``path``, ``split`` and ``label`` (1 = spoof).

    Returns:
        ``energy`` (log RMS level alone, oriented on the train split) and ``global_stats`` (logistic regression on
        level, peak, spectral centroid and a 16-band long-term average spectrum).
    """
    train, test = manifest[manifest["split"] == "train"], manifest[manifest["split"] == "test"]
    x_train = np.stack([global_features(p) for p in train["path"]])
    x_test = np.stack([global_features(p) for p in test["path"]])
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=1.0))
    clf.fit(x_train, train["label"])
    sign = 1.0 if roc_auc_score(train["label"], x_train[:, 0]) >= 0.5 else -1.0
    return {
        "energy": float(roc_auc_score(test["label"], sign * x_test[:, 0])),
        "global_stats": float(roc_auc_score(test["label"], clf.predict_proba(x_test)[:, 1])),
    }
