"""Builds the synthetic audio anti-spoofing dataset: speakers, bona fide utterances and three spoofing attacks.

Each speaker of a split gets ``utterances_per_speaker`` bona fide utterances and as many spoofs of the same voice
(different content), the attack cycling over :data:`~dfdet.data.audio.synthetic.attacks.ATTACKS`. Speakers are disjoint
across train/val/test. Files are 16 kHz mono 16-bit FLAC under ``flac/<split>/``, listed in ``manifest.parquet``
(see :mod:`dfdet.data.audio.sources` for the columns). The dataset is generated once into a folder named after a hash of
the generator version and every parameter, built in a temporary folder and renamed into place, so an interrupted
build never leaves a partial dataset behind.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from dfdet.data.audio.synthetic.attacks import ATTACKS, channel, codec, flat_vocoder, gl_vocoder
from dfdet.data.audio.synthetic.speech import SAMPLE_RATE, Speaker, Style, plan_utterance, render, sample_speaker
from dfdet.utils.cache import build_once
from dfdet.utils.orphans import exit_with_parent

GENERATOR_VERSION = 2
SPLITS = ("train", "val", "test")
LOWPASS_PROB = {"real": 0.6, "gl_vocoder": 0.45, "flat_vocoder": 0.45, "codec": 0.0}  # equal marginals, see attacks


@dataclass(frozen=True)
class SyntheticAudioSpec:
    """What to generate. Speakers are disjoint across splits; each has as many spoofs as bona fide utterances."""

    seed: int = 0
    speakers: tuple[int, int, int] = (24, 8, 8)  # train, val, test
    utterances_per_speaker: int = 16  # bona fide utterances per speaker (and as many spoofs)
    seconds: tuple[float, float] = (2.0, 4.0)  # utterance duration range

    def cache_key(self) -> str:
        blob = json.dumps({"version": GENERATOR_VERSION, **asdict(self)}, sort_keys=True)
        return f"v{GENERATOR_VERSION}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}"


def synthesize_pair(
    method: str, speaker: Speaker, rng: np.random.Generator, seconds: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """One bona fide utterance and one spoof (attack ``method``) of ``speaker``, different content, each through
    its own draw of the recording channel. Returns two float32 waveforms at :data:`SAMPLE_RATE`."""
    f0_scale = float(rng.lognormal(0.0, 0.05))
    real_plan = plan_utterance(speaker, rng.uniform(*seconds), rng)
    real = channel(render(real_plan, speaker, Style(), rng, f0_scale), rng, LOWPASS_PROB["real"])
    plan = plan_utterance(speaker, rng.uniform(*seconds), rng)
    if method == "flat_vocoder":
        spoof = flat_vocoder(plan, speaker, rng, f0_scale)
    else:
        clean = render(plan, speaker, Style(), rng, f0_scale)
        spoof = gl_vocoder(clean, rng) if method == "gl_vocoder" else codec(clean, rng)
    return real, channel(spoof, rng, LOWPASS_PROB[method])


def _speaker_rows(job: tuple[SyntheticAudioSpec, str, int, np.random.SeedSequence, str]) -> list[dict]:
    """Generates and writes one speaker's utterances; returns their manifest rows."""
    spec, split, index, seq, out = job
    speaker_seq, *utt_seqs = seq.spawn(1 + spec.utterances_per_speaker)
    voice = sample_speaker(np.random.default_rng(speaker_seq))
    speaker = f"{split}_spk{index:03d}"
    rows = []
    for j, useq in enumerate(utt_seqs):
        method = ATTACKS[(index + j) % len(ATTACKS)]
        real, spoof = synthesize_pair(method, voice, np.random.default_rng(useq), spec.seconds)
        for label, kind, wave in ((0, "real", real), (1, method, spoof)):
            utt = f"{speaker}_{j:03d}_{'b' if label == 0 else 's'}"
            rel = f"flac/{split}/{utt}.flac"
            sf.write(Path(out) / rel, wave, SAMPLE_RATE, subtype="PCM_16")
            rows.append(
                {
                    "dataset": "synthetic_audio",
                    "split": split,
                    "utt_id": utt,
                    "speaker": speaker,
                    "label": label,
                    "method": kind,
                    "path": rel,
                    "seconds": len(wave) / SAMPLE_RATE,
                }
            )
    return rows


def _context() -> multiprocessing.context.BaseContext:
    """``fork`` where available (the workers only run NumPy/SciPy code), else ``spawn``."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


def generate(spec: SyntheticAudioSpec, out: Path, workers: int = 1) -> pd.DataFrame:
    """Generates the dataset into ``out`` (which must not exist) and writes ``out/manifest.parquet``.

    Args:
        spec: what to generate.
        out: destination folder.
        workers: processes generating speakers in parallel; the files do not depend on it.
    """
    jobs = []
    for split, n_speakers, seq in zip(SPLITS, spec.speakers, np.random.SeedSequence(spec.seed).spawn(3), strict=True):
        (out / "flac" / split).mkdir(parents=True)
        jobs += [(spec, split, i, s, str(out)) for i, s in enumerate(seq.spawn(n_speakers))]
    if workers > 1:
        with ProcessPoolExecutor(workers, _context(), exit_with_parent, (os.getpid(),)) as pool:
            parts = list(pool.map(_speaker_rows, jobs))
    else:
        parts = [_speaker_rows(job) for job in jobs]
    manifest = pd.DataFrame([row for part in parts for row in part])
    manifest.to_parquet(out / "manifest.parquet", index=False)
    (out / "spec.json").write_text(json.dumps(asdict(spec), indent=2))
    return manifest


def ensure_synthetic_audio(spec: SyntheticAudioSpec, cache_dir: str | os.PathLike, workers: int = 1) -> Path:
    """Returns the manifest path of ``spec``'s dataset under ``cache_dir``, generating it on first use."""
    final = Path(cache_dir) / f"synthetic_audio-{spec.cache_key()}"
    return build_once(final, lambda tmp: len(generate(spec, tmp, workers)), "synthetic audio dataset")
