"""Fixtures for the audio tests: generated ASVspoof-2019-LA and folder trees, a tiny LCNN config."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from audio_helpers import SR, TINY_AUDIO, tone  # noqa: F401  (re-exported for the fixtures)


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


@pytest.fixture
def asvspoof_root(tmp_path: Path) -> Path:
    return make_asvspoof_tree(tmp_path / "LA")


@pytest.fixture
def tiny_audio() -> list[str]:
    return list(TINY_AUDIO)
