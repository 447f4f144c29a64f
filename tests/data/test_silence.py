"""The silence shortcut: silence features, the audit's AUCs and the silence-trimmed evaluation variant."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from sklearn.metrics import roc_auc_score

from dfdet.data import DeepfakeDataModule
from dfdet.data.audio.silence import (
    FEATURES,
    silence_audit,
    silence_features,
    speech_span,
    trim_silence,
    warn_if_silence_shortcut,
)
from dfdet.data.datamodule import DataConfigError
from dfdet.data.readers import AudioWindowReader, FrameReader

RATE = 16000


def tone(seconds: float, lead: float, trail: float, level: float = 0.5, seed: int = 0) -> np.ndarray:
    """A speech-like burst (noise-modulated tone) with ``lead`` and ``trail`` seconds of faint noise around it."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    body = level * np.sin(2 * np.pi * 220 * t) * (0.6 + 0.4 * rng.random(len(t)))
    quiet = [1e-4 * rng.standard_normal(int(s * RATE)) for s in (lead, trail)]
    return np.concatenate([quiet[0], body, quiet[1]]).astype(np.float32)


def test_speech_span_and_features_measure_the_silence_around_speech() -> None:
    wave = tone(1.0, lead=0.5, trail=0.25)
    start, end = speech_span(wave, RATE)
    assert abs(start / RATE - 0.5) < 0.03 and abs(end / RATE - 1.5) < 0.03
    feats = silence_features(wave, RATE)
    assert set(feats) == set(FEATURES)
    assert feats["leading_silence"] == pytest.approx(0.5, abs=0.03)
    assert feats["trailing_silence"] == pytest.approx(0.25, abs=0.03)
    assert feats["duration"] == pytest.approx(1.75)
    assert feats["speech_loudness"] > feats["loudness"] and -12 < feats["peak"] < -5
    assert len(trim_silence(wave, RATE)) == end - start
    assert speech_span(np.zeros(1000), RATE) == (0, 0) and len(trim_silence(np.zeros(10), RATE)) == 10


@pytest.fixture
def silence_shortcut(tmp_path: Path) -> pd.DataFrame:
    """Utterances whose fakes start with 0.4 s more silence than the reals (0.05 s), everything else alike."""
    rows = []
    for i in range(12):
        label = i % 2
        path = tmp_path / f"u{i}.flac"
        sf.write(path, tone(0.8, lead=0.05 + 0.4 * label, trail=0.1, level=0.2 + 0.05 * (i % 5), seed=i), RATE)
        split = ("train", "val", "test")[i % 3]
        rows.append(
            {"dataset": "toy", "split": split, "utt_id": f"u{i}", "label": label, "method": "m", "path": str(path)}
        )
    return pd.DataFrame(rows)


def test_the_audit_flags_leading_silence_as_a_shortcut(silence_shortcut: pd.DataFrame, caplog) -> None:  # noqa: ANN001
    aucs = silence_audit(silence_shortcut, max_items=None)
    expected = roc_auc_score(silence_shortcut["label"], [silence_features(sf.read(p)[0], RATE)["leading_silence"]
                                                         for p in silence_shortcut["path"]])  # fmt: skip
    assert aucs["leading_silence"] == pytest.approx(max(expected, 1 - expected)) and aucs["leading_silence"] == 1.0
    assert aucs["trailing_silence"] < 0.8
    with caplog.at_level("WARNING", logger="dfdet"):
        assert "leading_silence" in warn_if_silence_shortcut(aucs, where="toy")
    assert "data.trim_silence=true" in caplog.text
    assert silence_audit(silence_shortcut[silence_shortcut["label"] == 0]) == {}  # one class: nothing to audit


class _Source:
    name, id_column = "toy", "utt_id"

    def __init__(self, manifest: pd.DataFrame) -> None:
        self.frame = manifest

    def check(self) -> None: ...

    def prepare(self) -> None: ...

    def manifest(self) -> pd.DataFrame:
        return self.frame


def test_trim_silence_removes_the_shortcut_from_the_items(silence_shortcut: pd.DataFrame) -> None:
    def first_windows(trim: bool) -> tuple[np.ndarray, np.ndarray]:
        reader = AudioWindowReader(num_samples=1600, sample_rate=RATE)
        dm = DeepfakeDataModule(_Source(silence_shortcut), reader, modality="audio", trim_silence=trim)
        dm.setup()
        items = [dm.datasets[s][i] for s in ("val", "test") for i in range(len(dm.datasets[s]))]  # first windows
        return np.array([float(it["audio"].abs().mean()) for it in items]), np.array([int(it["label"]) for it in items])

    energy, labels = first_windows(trim=False)  # the first 0.1 s: only silence in fakes, half speech in reals
    assert roc_auc_score(labels, -energy) == 1.0
    energy, labels = first_windows(trim=True)  # now speech in both
    assert energy.min() > 0.05


def test_trim_silence_is_refused_for_items_without_sound(silence_shortcut: pd.DataFrame) -> None:
    with pytest.raises(DataConfigError, match="trim_silence"):
        DeepfakeDataModule(_Source(silence_shortcut), FrameReader(), modality="face", trim_silence=True)


def test_evaluate_takes_trim_silence_for_its_own_data_and_for_other_data(
    untrained_audio_ckpt: Path, compose_cfg
) -> None:
    from dfdet.models import load_detector
    from dfdet.tasks.common import build
    from dfdet.tasks.evaluate import _data_config

    _, train_cfg = load_detector(untrained_audio_ckpt)
    for overrides, trim in (
        (["+data.trim_silence=true"], True),
        ([], False),
        (["data=audio_folder", "data.trim_silence=true"], True),
    ):
        cfg = compose_cfg("evaluate", [f"ckpt_path={untrained_audio_ckpt}", *overrides])
        data = _data_config(cfg, train_cfg)
        assert bool(data.get("trim_silence", False)) is trim, overrides
        if "data=audio_folder" not in overrides:  # the checkpoint's own data: the reader gets it
            assert build(data).reader.trim_silence is trim
