"""File-format shortcut audit: can reals be told from fakes by the file alone, without looking at the pixels?

The best-known trap of AI-generated image detection: real photos are camera JPEGs (with EXIF, of many sizes), the
generated images PNGs of the generator's size, and a detector learns the format. :func:`format_audit` scores each
trivial file feature alone as a real-vs-fake score and reports its AUC, taken as ``max(auc, 1 - auc)`` (a feature
that separates the classes either way is a shortcut); 0.5 means no shortcut, 1.0 a perfect one. Features are read
from file headers only (no decoding):

- ``format``: the container by magic bytes (JPEG, PNG, WebP, ...); as a categorical feature it is scored by the share
  of fakes in its category, the best any classifier of it can do (likewise ``exif``);
- ``jpeg_quality``: the IJG quality estimated from the luminance quantisation table (-1 for non-JPEG files);
- ``file_size`` (bytes), ``width``, ``height``, ``aspect`` (width / height), ``exif`` (present or not).

:func:`warn_if_shortcut` logs one paragraph when any feature exceeds 0.7; ``train.py`` runs both on whole-image data.
"""

from __future__ import annotations

import logging
import os

import numpy as np
import pandas as pd
from PIL import Image
from sklearn.metrics import roc_auc_score

log = logging.getLogger("dfdet")

FEATURES = ("format", "jpeg_quality", "file_size", "width", "height", "aspect", "exif")
CATEGORICAL = ("format", "exif")
MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"\xff\xd8\xff", "jpeg"), (b"\x89PNG", "png"), (b"GIF8", "gif"), (b"BM", "bmp"), (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
)  # fmt: skip
# IJG's standard luminance quantisation table (quality 50); only its sum is used, so the order does not matter.
IJG_LUMA = np.array(
    [16, 11, 12, 14, 12, 10, 16, 14, 13, 14, 18, 17, 16, 19, 24, 40, 26, 24, 22, 22, 24, 49, 35, 37, 29, 40, 58, 51,
     61, 60, 57, 51, 56, 55, 64, 72, 92, 78, 64, 68, 87, 69, 55, 56, 80, 109, 81, 87, 95, 98, 103, 104, 103, 62, 77,
     113, 121, 112, 100, 120, 92, 101, 103, 99],
    dtype=np.float64,
)  # fmt: skip


def magic_format(head: bytes) -> str:
    """The file format from its first bytes (``jpeg``, ``png``, ``webp``, ``gif``, ``bmp``, ``tiff`` or ``other``)."""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    return next((name for magic, name in MAGIC if head.startswith(magic)), "other")


def jpeg_quality(quantization: dict[int, list[int]] | None) -> float:
    """IJG quality (1-100) that would produce this luminance table; -1 without tables (not a JPEG)."""
    if not quantization or 0 not in quantization:
        return -1.0
    table = np.asarray(quantization[0], dtype=np.float64)
    if table.size != 64:
        return -1.0
    scale = float(table.sum() * 100.0 / IJG_LUMA.sum())  # the IJG scale factor, in percent
    quality = (200.0 - scale) / 2.0 if scale <= 100.0 else 5000.0 / scale
    return float(np.clip(round(quality), 1, 100))


def file_features(path: str) -> dict[str, float | str]:
    """The audit's features of one file, from its header."""
    with open(path, "rb") as f:
        head = f.read(16)
    with Image.open(path) as img:
        width, height = img.size
        quant = getattr(img, "quantization", None)
        exif = bool(img.info.get("exif")) or len(img.getexif()) > 0
    return {
        "format": magic_format(head),
        "jpeg_quality": jpeg_quality(quant),
        "file_size": float(os.path.getsize(path)),
        "width": float(width),
        "height": float(height),
        "aspect": width / max(height, 1),
        "exif": "yes" if exif else "no",
    }


def feature_auc(values: pd.Series, labels: np.ndarray, categorical: bool = False) -> float:
    """AUC of one feature alone as a fake score, ``max(auc, 1 - auc)``; a category scores its share of fakes."""
    if categorical:
        scores = values.map(pd.Series(labels, index=values.index).groupby(values).mean()).to_numpy(dtype=float)
    else:
        scores = values.to_numpy(dtype=float)
    auc = float(roc_auc_score(labels, scores))
    return max(auc, 1.0 - auc)


def format_audit(manifest: pd.DataFrame, max_items: int | None = 4000, seed: int = 0) -> dict[str, float]:
    """AUC of each file feature alone at telling fakes from reals, over the whole manifest (every split).

    Args:
        manifest: rows with absolute ``path`` and ``label`` (0 real, 1 fake).
        max_items: audit a random sample of at most this many rows per class (headers are read, so large sets
            stay quick); None: every row.
        seed: the sample's seed.

    Returns:
        ``{feature: auc}`` for :data:`FEATURES`; empty when the manifest lacks either class.
    """
    labels = manifest["label"].astype(int)
    if labels.nunique() < 2:
        return {}
    rows = manifest
    if max_items is not None:
        rng = np.random.default_rng(seed)
        keep = [rng.permutation(np.flatnonzero(labels == c))[:max_items] for c in (0, 1)]
        rows = manifest.iloc[np.sort(np.concatenate(keep))]
    feats = pd.DataFrame([file_features(str(p)) for p in rows["path"]], index=rows.index)
    y = rows["label"].astype(int).to_numpy()
    return {name: feature_auc(feats[name], y, categorical=name in CATEGORICAL) for name in FEATURES}


FORMAT_SHORTCUT = (
    "File-format shortcut",
    "real and fake images differ in their files alone",
    "A detector can learn this instead of generation traces, so its numbers on this data are not to be trusted. "
    "Re-encode real and fake alike (data.source.reencode: a JPEG quality range and/or the same resize chain, see "
    "docs/ai_images.md) and check this audit again.",
)


def warn_if_shortcut(
    aucs: dict[str, float],
    threshold: float = 0.7,
    where: str = "the data",
    shortcut: tuple[str, str, str] = FORMAT_SHORTCUT,
) -> list[str]:
    """Logs one warning paragraph naming every feature whose AUC exceeds ``threshold``.

    Args:
        aucs: ``{feature: auc}`` of an audit (this module's, or :func:`dfdet.data.audio.silence.silence_audit`).
        threshold: the AUC above which a feature is a shortcut.
        where: the data, named in the message.
        shortcut: (name, what differs, advice) of the message.

    Returns:
        The names of those features (empty: no shortcut found).
    """
    flagged = [name for name, auc in aucs.items() if auc > threshold]
    if flagged:
        found = ", ".join(f"{name} {aucs[name]:.2f}" for name in flagged)
        title, differs, advice = shortcut
        log.warning(
            "%s in %s: %s (AUC of each feature as a real-vs-fake score: %s; 0.5 is none). %s",
            title,
            where,
            differs,
            found,
            advice,
        )
    return flagged
