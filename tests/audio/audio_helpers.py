"""Signal helpers shared by the audio tests (a plain module: conftest files are not importable by name)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import soundfile as sf
from sklearn.metrics import roc_curve

SR = 16000
# Tiny LCNN on half-second crops: enough to run the real training loop in a few seconds.
TINY_AUDIO = [
    "model=lcnn",
    "model.input.num_samples=8000",
    "model.net.channels=[4,4,4,4,4]",
    "model.net.embedding=8",
    "data.batch_size=8",
]


def tone(rng: np.random.Generator, seconds: float, spoof: bool) -> np.ndarray:
    """A harmonic tone with noise (bona fide) or band-limited noise (spoof), float32 in [-1, 1]."""
    t = np.arange(int(seconds * SR)) / SR
    if spoof:
        x = np.convolve(rng.standard_normal(len(t)), np.ones(8) / 8, mode="same")
    else:
        f0 = rng.uniform(100, 200)
        x = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 6)) + 0.05 * rng.standard_normal(len(t))
    return (0.3 * x / np.abs(x).max()).astype(np.float32)


def make_asvspoof_tree(root: Path, per_class: int = 4, seed: int = 0) -> Path:
    """Writes a miniature ASVspoof 2019 LA release under ``root``: flac folders and the three CM protocols."""
    rng = np.random.default_rng(seed)
    proto_dir = root / "ASVspoof2019_LA_cm_protocols"
    proto_dir.mkdir(parents=True)
    for part, ext, letter, attacks in (
        ("train", "trn", "T", ("A01", "A02")),
        ("dev", "trl", "D", ("A01", "A02")),
        ("eval", "trl", "E", ("A07", "A08")),
    ):
        flac = root / f"ASVspoof2019_LA_{part}" / "flac"
        flac.mkdir(parents=True)
        lines = []
        for i in range(2 * per_class):
            spoof = i % 2 == 1
            utt = f"LA_{letter}_{1000000 + i}"
            sf.write(flac / f"{utt}.flac", tone(rng, rng.uniform(0.3, 0.8), spoof), SR)
            system = attacks[(i // 2) % 2] if spoof else "-"
            lines.append(f"LA_{i % 3:04d} {utt} - {system} {'spoof' if spoof else 'bonafide'}")
        (proto_dir / f"ASVspoof2019.LA.cm.{part}.{ext}.txt").write_text("\n".join(lines) + "\n")
    return root


def sklearn_eer(scores: np.ndarray, labels: np.ndarray) -> float:
    """EER from sklearn's ROC: interpolate where FPR crosses FNR."""
    fpr, tpr, _ = roc_curve(labels, scores)
    fnr = 1 - tpr
    i = int(np.nonzero(fpr - fnr >= 0)[0][0])
    if i == 0:
        return float(fpr[0])
    d0, d1 = fpr[i - 1] - fnr[i - 1], fpr[i] - fnr[i]
    w = -d0 / (d1 - d0)
    return float(fpr[i - 1] + w * (fpr[i] - fpr[i - 1]))


def write_m4a(path: Path, wave: np.ndarray) -> None:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=SR)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(wave[None].astype(np.float32), format="fltp", layout="mono")
        frame.sample_rate = SR
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def make_folder_tree(root: Path, n: int = 10) -> Path:
    rng = np.random.default_rng(1)
    for cls in ("real", "fake/tts", "fake/vc"):
        (root / cls).mkdir(parents=True)
    for i in range(n):
        sf.write(root / "real" / f"r{i}.wav", tone(rng, 0.4, False), SR)
        sf.write(root / "fake" / "tts" / f"t{i}.flac", tone(rng, 0.4, True), SR)
    sf.write(root / "real" / "extra.mp3", tone(rng, 0.5, False), 22050)
    write_m4a(root / "fake" / "vc" / "v0.m4a", tone(rng, 0.5, True))
    return root
