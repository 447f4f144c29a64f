"""Torch datasets over audio manifest rows: decode, resample, fixed-length crop with repeat padding."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from dfdet.audio.crops import fixed_crop
from dfdet.audio.io import load_audio


@dataclass
class AudioAugment:
    """Training-time waveform augmentation: random gain and, with probability ``noise_prob``, white noise.

    Args:
        gain_db: range of the random gain in dB.
        noise_snr_db: range of the noise's signal-to-noise ratio in dB.
        noise_prob: probability of adding noise.
    """

    gain_db: Sequence[float] = (-6.0, 6.0)
    noise_snr_db: Sequence[float] = (20.0, 40.0)
    noise_prob: float = 0.0

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Args: x (T,) float waveform; rng the randomness. Returns (T,) float32."""
        low, high = self.gain_db
        x = x * np.float32(10 ** (rng.uniform(low, high) / 20))
        if rng.random() < self.noise_prob:
            rms = np.sqrt(np.mean(x**2)) + 1e-8
            snr = rng.uniform(self.noise_snr_db[0], self.noise_snr_db[1])
            x = x + rng.standard_normal(len(x)).astype(np.float32) * rms * np.float32(10 ** (-snr / 20))
        return np.clip(x, -1.0, 1.0).astype(np.float32)


class AudioDataset(Dataset):
    """One item per manifest row (one utterance).

    Args:
        rows: manifest rows with absolute ``path``, ``label``.
        video_idx: integer id of each row's utterance, shape (len(rows),), stable across splits.
        num_samples: crop length in samples.
        sample_rate: decode/resample to this rate, Hz.
        rng: random crops and augmentation (training); None gives deterministic first-window crops (evaluation).
            Dataloader workers reseed it (see :func:`seed_audio_worker`).
        augment: optional waveform augmentation applied after cropping (training only).

    Items are dicts: ``input`` (num_samples,) float32, ``label`` () float (1 = fake), ``video_idx`` () long (the
    utterance), ``frame_index`` () long (0: one crop per utterance). A broken file raises, naming it.
    """

    def __init__(
        self,
        rows: pd.DataFrame,
        video_idx: np.ndarray,
        num_samples: int,
        sample_rate: int = 16000,
        rng: np.random.Generator | None = None,
        augment: AudioAugment | None = None,
    ) -> None:
        self.paths = rows["path"].tolist()
        self.labels = torch.tensor(rows["label"].to_numpy(), dtype=torch.float32)
        self.video_idx = torch.tensor(video_idx, dtype=torch.long)
        self.num_samples = int(num_samples)
        self.sample_rate = int(sample_rate)
        self.rng = rng
        self.augment = augment

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        wave = fixed_crop(load_audio(self.paths[i], self.sample_rate), self.num_samples, self.rng)
        if self.augment is not None and self.rng is not None:
            wave = self.augment(wave, self.rng)
        return {
            "input": torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32)),
            "label": self.labels[i],
            "video_idx": self.video_idx[i],
            "frame_index": torch.tensor(0, dtype=torch.long),
        }


def seed_audio_worker(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: gives each worker's crop/augmentation generator its own reproducible seed
    (from the worker's torch seed, which ``L.seed_everything(workers=True)`` derives from the run seed)."""
    info = torch.utils.data.get_worker_info()
    dataset = info.dataset if info is not None else None
    if isinstance(dataset, AudioDataset) and dataset.rng is not None:
        dataset.rng = np.random.default_rng(torch.initial_seed() % 2**63)
