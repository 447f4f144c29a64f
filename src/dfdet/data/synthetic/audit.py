"""Shortcut audit: can fakes be told from reals without looking at manipulation artefacts?

A dataset that a colour histogram or a file size separates teaches detectors nothing. :func:`shortcut_aucs` fits
simple classifiers on global statistics of the training frames and reports their test AUC; a sound dataset keeps them
near chance while a CNN reaches a high AUC.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
from PIL import Image
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler


def colour_features(path: str, bins: int = 8) -> np.ndarray:
    """Per-channel mean, std and a ``bins``-bin histogram of one image, shape (3 * (2 + bins),)."""
    img = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0
    feats = [img.mean((0, 1)), img.std((0, 1))]
    feats += [np.histogram(img[..., c], bins=bins, range=(0, 1))[0] / img[..., c].size for c in range(3)]
    return np.concatenate(feats)


def shortcut_aucs(manifest: pd.DataFrame) -> dict[str, float]:
    """Test AUCs of shortcut classifiers trained on the train split.

    Args:
        manifest: rows with absolute ``path``, ``split`` and ``label``.

    Returns:
        ``constant`` (always 0.5), ``colour_stats`` (logistic regression on colour statistics) and ``file_size``
        (the JPEG size alone, as a score, oriented on the train split).
    """
    train, test = manifest[manifest["split"] == "train"], manifest[manifest["split"] == "test"]
    x_train = np.stack([colour_features(p) for p in train["path"]])
    x_test = np.stack([colour_features(p) for p in test["path"]])
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=1.0))
    clf.fit(x_train, train["label"])
    colour = roc_auc_score(test["label"], clf.predict_proba(x_test)[:, 1])
    size_train = np.array([os.path.getsize(p) for p in train["path"]])
    sign = 1.0 if roc_auc_score(train["label"], size_train) >= 0.5 else -1.0
    size_test = np.array([os.path.getsize(p) for p in test["path"]])
    return {
        "constant": float(roc_auc_score(test["label"], np.zeros(len(test)))),
        "colour_stats": float(colour),
        "file_size": float(roc_auc_score(test["label"], sign * size_test)),
    }
