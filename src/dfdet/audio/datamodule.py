"""The LightningDataModule for audio anti-spoofing: a source's utterances as fixed-length waveform crops."""

from __future__ import annotations

import lightning as L
import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from dfdet.audio.datasets import AudioAugment, AudioDataset, seed_audio_worker
from dfdet.audio.sources import AudioSource
from dfdet.data.manifest import video_keys
from dfdet.errors import DfdetError, ManifestError

SPLITS = ("train", "val", "test")
MIN_SAMPLES = 1600  # 0.1 s at 16 kHz: anything shorter is an image size, not an audio crop


class AudioConfigError(DfdetError):
    """An audio data option is set to something that does not apply to audio."""


class AudioDataModule(L.LightningDataModule):
    """Utterances of one audio source, split by the manifest's ``split`` column, as dict batches.

    Batches: ``input`` (B, num_samples) float waveforms, ``label`` (B,) float (1 = spoof), ``video_idx`` (B,) long
    (the utterance, so "video" metrics are utterance metrics), ``frame_index`` (B,) long (0).

    Args:
        source: lists the utterances (:mod:`dfdet.audio.sources`).
        num_samples: crop length in samples (the model's ``image_size``): random crops in training, the first
            window in evaluation; shorter utterances are repeat-padded.
        sample_rate: decode and resample every file to this rate, Hz (the front-ends' rate).
        batch_size: utterances per batch.
        num_workers: DataLoader worker processes.
        pin_memory: pin host memory (useful on GPU).
        train_transform: waveform augmentation for training (:class:`~dfdet.audio.datasets.AudioAugment`) or None.
            Image augmentations are refused.
        seed: seeds the crop/augmentation generator of the main process (workers reseed from the run seed).
        root: the dataset folder (``data.root``, which the source reads); kept for provenance.
        synthesis: must be None: face fake synthesis (``synthesis=sbi``, which sets ``data.synthesis``) does not apply
            to audio.
        clip_len, clip_stride: frame clips, set by image models' temporal heads; ``clip_len`` must be None.
    """

    def __init__(
        self,
        source: AudioSource,
        num_samples: int = 64000,
        sample_rate: int = 16000,
        batch_size: int = 32,
        num_workers: int = 0,
        pin_memory: bool = False,
        train_transform: AudioAugment | None = None,
        seed: int | None = None,
        root: str | None = None,
        synthesis: object | None = None,
        clip_len: int | None = None,
        clip_stride: int = 1,
    ) -> None:
        super().__init__()
        if synthesis is not None:
            raise AudioConfigError(
                "synthesis=... makes fake faces and does not apply to audio data: use synthesis=none"
            )
        if clip_len is not None:
            raise AudioConfigError("data.clip_len (frame clips of a temporal head) does not apply to audio data")
        if int(num_samples) < MIN_SAMPLES:
            raise AudioConfigError(
                f"data.num_samples={num_samples} (model.image_size) is too short for an audio crop: train audio data "
                "with an audio model (model=lcnn, rawnet2 or spec_cnn), whose image_size is the crop length in samples"
            )
        if train_transform is not None and not isinstance(train_transform, AudioAugment):
            raise AudioConfigError(
                f"data.train_transform is a {type(train_transform).__name__}, not an audio augmentation: audio data "
                "takes dfdet.audio.AudioAugment or null (do not combine augment@data.train_transform with audio data)"
            )
        self.source = source
        self.num_samples = int(num_samples)
        self.sample_rate = int(sample_rate)
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.train_transform = train_transform
        self.seed = seed
        self.root = root
        self.manifest: pd.DataFrame | None = None
        self.datasets: dict[str, AudioDataset] = {}

    def check(self) -> None:
        """Fails fast, with one clear message, when the data is missing or malformed."""
        self.source.check()

    def prepare_data(self) -> None:
        self.source.prepare()

    def setup(self, stage: str | None = None) -> None:
        if self.manifest is not None:
            return
        manifest = self.source.manifest().reset_index(drop=True)
        keys = video_keys(manifest, "utt_id")
        if keys.duplicated().any():
            raise ManifestError(
                f"{self.source.name}: utterance ids are not unique, e.g. {keys[keys.duplicated()].iloc[0]}"
            )
        manifest["video_idx"] = pd.Categorical(keys).codes.astype(np.int64)
        self.manifest = manifest
        for split in SPLITS:
            rows = manifest[manifest["split"] == split].reset_index(drop=True)
            if rows.empty:
                continue
            train = split == "train"
            self.datasets[split] = AudioDataset(
                rows,
                rows["video_idx"].to_numpy(),
                self.num_samples,
                self.sample_rate,
                rng=np.random.default_rng(self.seed) if train else None,
                augment=self.train_transform if train else None,
            )

    def class_counts(self) -> tuple[int, int]:
        """Numbers of bona fide and spoofed training utterances."""
        labels = self._dataset("train").labels
        return int((labels == 0).sum()), int((labels == 1).sum())

    def video_names(self) -> list[str]:
        """``dataset/utt_id`` for each ``video_idx`` (index into this list)."""
        manifest = self._manifest()
        return list(pd.Categorical(video_keys(manifest, "utt_id")).categories)

    def methods(self, video_idx: torch.Tensor | np.ndarray) -> np.ndarray:
        """The ``method`` (``real`` or attack id) of each utterance index, shape (N,) of str."""
        manifest = self._manifest()
        by_idx = np.empty(len(manifest), dtype=object)
        by_idx[manifest["video_idx"].to_numpy()] = manifest["method"].astype(str).to_numpy()
        return by_idx[np.asarray(video_idx, dtype=np.int64)]

    def _manifest(self) -> pd.DataFrame:
        self.setup()
        assert self.manifest is not None
        return self.manifest

    def _dataset(self, split: str) -> AudioDataset:
        manifest = self._manifest()
        if split not in self.datasets:
            raise ManifestError(
                f"{self.source.name} has no '{split}' utterances (splits present: {sorted(manifest['split'].unique())})"
            )
        return self.datasets[split]

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        dataset = self._dataset(split)
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
            worker_init_fn=seed_audio_worker,
            drop_last=shuffle and len(dataset) > self.batch_size,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)
