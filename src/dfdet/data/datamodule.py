"""The LightningDataModule shared by every image dataset: a manifest source, transforms and loaders."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, WeightedRandomSampler

from dfdet.data.datasets import ClipDataset, FrameDataset
from dfdet.data.manifest import read_manifest, split_frames, video_keys
from dfdet.data.sources import ManifestSource
from dfdet.data.synthesis import FakeSynthesis, SynthesizedFrameDataset
from dfdet.errors import ManifestError
from dfdet.transforms import seed_worker


class DeepfakeDataModule(L.LightningDataModule):
    """Frames of one dataset, split by the manifest's ``split`` column.

    Args:
        source: provides the manifest (synthetic generator or a preprocessed dataset).
        train_transform: augmentation + normalisation for training frames.
        eval_transform: normalisation for validation/test frames.
        batch_size: frames per batch.
        num_workers: DataLoader worker processes.
        pin_memory: pin host memory (useful on GPU).
        check_files: verify up front that every crop listed in the manifest exists.
        root: the dataset's release folder (``data.root``, which the source reads); kept for provenance.
        clip_len: None for frame items; T for clip items of T consecutive sampled frames (temporal heads).
        clip_stride: frames between clip starts.
        synthesis: on-the-fly fake synthesis for training (``synthesis=sbi``); None: the dataset's own fakes.
        balance: draw training items with a class-balanced ``WeightedRandomSampler`` (each class weighted by the
            inverse of its count, with replacement, one epoch = as many items as the train split), e.g. for
            FaceForensics++'s 4-5 fakes per real; False shuffles uniformly.
    """

    def __init__(
        self,
        source: ManifestSource,
        train_transform: Callable[[np.ndarray], torch.Tensor],
        eval_transform: Callable[[np.ndarray], torch.Tensor],
        batch_size: int = 64,
        num_workers: int = 0,
        pin_memory: bool = False,
        check_files: bool = True,
        root: str | None = None,
        clip_len: int | None = None,
        clip_stride: int = 1,
        synthesis: FakeSynthesis | None = None,
        balance: bool = False,
    ) -> None:
        super().__init__()
        self.source = source
        self.train_transform = train_transform
        self.eval_transform = eval_transform
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.check_files = check_files
        self.root = root
        self.clip_len = clip_len
        self.clip_stride = clip_stride
        self.synthesis = synthesis
        self.balance = balance
        self.manifest: pd.DataFrame | None = None
        self.datasets: dict[str, FrameDataset | ClipDataset | SynthesizedFrameDataset] = {}

    def check(self) -> None:
        """Fails fast, with one clear message, when the data is missing or malformed."""
        self.source.check()

    def prepare_data(self) -> None:
        self.source.prepare()

    def setup(self, stage: str | None = None) -> None:
        if self.manifest is not None:
            return
        manifest = read_manifest(self.source.manifest_path(), check_files=self.check_files)
        manifest["video_idx"] = pd.Categorical(video_keys(manifest)).codes.astype(np.int64)
        self.manifest = manifest
        for split in ("train", "val", "test"):
            if (manifest["split"] == split).any():
                rows = split_frames(manifest, split)
                transform = self.train_transform if split == "train" else self.eval_transform
                if split == "train" and self.synthesis is not None:
                    self.datasets[split] = SynthesizedFrameDataset(
                        rows, rows["video_idx"].to_numpy(), transform, self.synthesis
                    )
                elif self.clip_len:
                    self.datasets[split] = ClipDataset(
                        rows, rows["video_idx"].to_numpy(), transform, self.clip_len, self.clip_stride
                    )
                else:
                    self.datasets[split] = FrameDataset(rows, rows["video_idx"].to_numpy(), transform)

    def class_counts(self) -> tuple[int, int]:
        """Numbers of real and fake training frames."""
        self.setup()
        labels = self.datasets["train"].labels
        return int((labels == 0).sum()), int((labels == 1).sum())

    def video_names(self) -> list[str]:
        """``dataset/video_id`` for each ``video_idx`` (index into this list)."""
        self.setup()
        assert self.manifest is not None
        return list(pd.Categorical(video_keys(self.manifest)).categories)

    def video_files(self, split: str) -> dict[str, Path]:
        """The source video of each video of ``split``, by ``dataset/video_id`` (from the manifest's ``source``
        column, which ``preprocess.py`` writes), e.g. to score its sound track.

        Raises:
            ManifestError: the data has no source videos (the synthetic set, or a manifest without ``source``), or
                the split has no rows.
        """
        self.setup()
        assert self.manifest is not None
        resolve = getattr(self.source, "video_file", None)
        if resolve is None or "source" not in self.manifest.columns:
            raise ManifestError(
                f"{type(self.source).__name__} has no source videos: audio-visual evaluation needs a dataset "
                "preprocessed from video files (data=ffpp|celebdf|dfdc|folder, see docs/preprocessing.md)"
            )
        videos = split_frames(self.manifest, split).drop_duplicates(["dataset", "video_id"])
        sources = dict(zip(video_keys(videos), videos["source"].astype(str), strict=True))
        return {name: resolve(source) for name, source in sorted(sources.items())}

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        if split not in self.datasets:
            split_frames(self.manifest, split)  # raises the clear "no rows" error
        sampler = self._balanced_sampler(split) if shuffle and self.balance else None
        return DataLoader(
            self.datasets[split],
            batch_size=self.batch_size,
            shuffle=shuffle and sampler is None,
            sampler=sampler,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
            worker_init_fn=seed_worker,
            drop_last=shuffle and len(self.datasets[split]) > self.batch_size,
        )

    def _balanced_sampler(self, split: str) -> WeightedRandomSampler:
        """Samples items with probability inversely proportional to the size of their class (labels 0/1)."""
        labels = self.datasets[split].labels.long()
        counts = torch.bincount(labels, minlength=2).clamp(min=1).double()
        weights = (1.0 / counts)[labels].tolist()
        return WeightedRandomSampler(weights, num_samples=len(labels), replacement=True)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)
