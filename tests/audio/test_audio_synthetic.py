"""The built-in synthetic audio set: determinism, speaker splits, labels, caching, and no level/spectrum shortcut."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from dfdet.data.audio.sources import SyntheticAudioSource
from dfdet.data.audio.synthetic import ATTACKS, SyntheticAudioSpec, ensure_synthetic_audio
from dfdet.data.audio.synthetic.audit import shortcut_aucs

TINY = SyntheticAudioSpec(speakers=(3, 2, 2), utterances_per_speaker=3, seconds=(1.0, 1.5))


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(root.rglob("*.flac")):
        h.update(p.relative_to(root).as_posix().encode() + p.read_bytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_synthetic_audio(TINY, tmp_path_factory.mktemp("synth_audio"))


def test_layout_labels_and_speaker_splits(tiny: Path) -> None:
    df = pd.read_parquet(tiny)
    assert len(df) == 2 * 7 * 3
    assert set(df["method"]) == {"real", *ATTACKS}
    assert ((df["method"] == "real") == (df["label"] == 0)).all()
    speakers = df.groupby("split")["speaker"].apply(set)
    assert not (speakers["train"] & speakers["val"]) and not (speakers["train"] & speakers["test"])
    for rel in df["path"][:6]:
        info = sf.info(str(tiny.parent / rel))
        assert info.samplerate == 16000 and info.channels == 1 and 1.0 <= info.duration <= 1.5


def test_generation_is_deterministic_and_cached(tiny: Path, tmp_path: Path) -> None:
    again = ensure_synthetic_audio(TINY, tmp_path, workers=2)
    assert _digest(again.parent) == _digest(tiny.parent)
    stamp = again.stat().st_mtime_ns
    assert ensure_synthetic_audio(TINY, tmp_path) == again and again.stat().st_mtime_ns == stamp
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]  # built in a temporary folder, renamed


def test_source_manifest_has_absolute_paths(tiny: Path) -> None:
    source = SyntheticAudioSource(
        tiny.parent.parent, speakers=TINY.speakers, utterances_per_speaker=3, seconds=[1.0, 1.5]
    )
    df = source.manifest()
    assert all(Path(p).is_absolute() and Path(p).is_file() for p in df["path"])


def test_level_and_average_spectrum_do_not_give_the_label_away(tmp_path: Path) -> None:
    spec = SyntheticAudioSpec(speakers=(6, 1, 4), utterances_per_speaker=6, seconds=(1.5, 2.5))
    manifest = ensure_synthetic_audio(spec, tmp_path, workers=2)
    df = pd.read_parquet(manifest)
    df["path"] = [str(manifest.parent / p) for p in df["path"]]
    aucs = shortcut_aucs(df)
    assert 0.3 < aucs["energy"] < 0.7, aucs
    assert aucs["global_stats"] < 0.75, aucs
    assert np.isfinite(list(aucs.values())).all()
