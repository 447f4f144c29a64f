"""The one LightningDataModule: a source's manifest, split by its ``split`` column, read by an item reader."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import lightning as L
import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader, Dataset, WeightedRandomSampler

from dfdet.data.manifest import SPLITS, split_frames, validate_manifest, video_keys
from dfdet.data.pairs import collate_pairs, paired_dataset
from dfdet.data.readers import KEYS, ItemReader
from dfdet.data.sources import Source
from dfdet.data.synthesis import FakeSynthesis, SynthesizedFrameDataset
from dfdet.errors import DfdetError, ManifestError
from dfdet.transforms import seed_worker
from dfdet.transforms.audio import AudioAugment
from dfdet.transforms.presets import rank_seed


class DataConfigError(DfdetError):
    """A data option that does not fit the data's modality or reader."""


class DeepfakeDataModule(L.LightningDataModule):
    """Items of one dataset of any modality, split by the manifest's ``split`` column, as dict batches.

    Batches hold the reader's inputs (``image``, ``clip``, ``audio``, see :mod:`dfdet.data.readers`), ``label``
    (B,) float (1 = fake), ``video_idx`` (B,) long (the video or utterance) and ``frame_index`` (B,) long.

    Args:
        source: lists the items (:class:`~dfdet.data.sources.Source`: synthetic, preprocessed face crops, audio).
        reader: makes one split's dataset from its rows (frames, clips, audio windows).
        modality: the data's modality (``face``, ``image``, ``audio``, ``audio_visual``): checked against the
            model's input contract by every entry point, and against the reader here.
        train_transform: augmentation for training items (an image pipeline, or an audio augmentation); None: the
            evaluation transform.
        eval_transform: normalisation of validation/test items (images); None for audio.
        batch_size: items per batch.
        num_workers: DataLoader worker processes.
        pin_memory: pin host memory (useful on GPU).
        check_files: verify up front that every file listed in the manifest exists.
        root: the dataset's release folder (``data.root``, which the source reads); kept for provenance.
        synthesis: on-the-fly fake synthesis for training frames (``synthesis=sbi``); None (or the empty node that
            ``synthesis=none`` leaves): the dataset's own fakes.
        balance: draw training items with a class-balanced ``WeightedRandomSampler`` (each class weighted by the
            inverse of its count, with replacement, one epoch = as many items as the train split), e.g. for
            FaceForensics++'s 4-5 fakes per real; False shuffles uniformly.
        seed: seeds the training reader's generator in the main process (audio crops); workers reseed from the
            run seed.
        paired: draw each fake training item together with the real item of the video it was made from (the
            manifest's ``original``; :mod:`dfdet.data.pairs`, as GenD trains): batches of ``batch_size / 2`` pairs,
            one epoch = every paired fake once; fakes without their real video in train are left out (counted).
        methods: the manipulation methods whose fakes train and validate (reals are always kept); None: all.
        test_methods: the methods whose fakes are tested; None: ``methods``. With ``methods``, the
            cross-manipulation protocol (train on some methods, test on the others).
        leave_out: one method held out: train and validate on every other method, test on it alone (DeepfakeBench's
            leave-one-out tables: ``train.py -m data.leave_out=Deepfakes,Face2Face,FaceSwap,NeuralTextures``).
        trim_silence: the silence-trimmed variant of audio and audio-visual data: leading and trailing silence is
            left out of every split (the reader's ``trim_silence``; see :mod:`dfdet.data.audio.silence`).
    """

    def __init__(
        self,
        source: Source,
        reader: ItemReader,
        modality: str = "face",
        train_transform: Callable | None = None,
        eval_transform: Callable | None = None,
        batch_size: int = 64,
        num_workers: int = 0,
        pin_memory: bool = False,
        check_files: bool = True,
        root: str | None = None,
        synthesis: FakeSynthesis | None = None,
        balance: bool = False,
        seed: int | None = None,
        paired: bool = False,
        methods: list[str] | None = None,
        test_methods: list[str] | None = None,
        leave_out: str | None = None,
        trim_silence: bool = False,
    ) -> None:
        super().__init__()
        if synthesis is not None and not isinstance(synthesis, FakeSynthesis):
            if synthesis:  # a node without _target_, e.g. a mistyped data.synthesis.method=sbi
                raise DataConfigError(f"data.synthesis={dict(synthesis)} is not a fake synthesis: use synthesis=sbi")
            synthesis = None  # synthesis=none leaves an empty node
        keys = "+".join(reader.keys)
        if not set(reader.keys) <= set(KEYS.get(modality, ())):
            raise DataConfigError(f"a {type(reader).__name__} ({keys} items) cannot read {modality} data")
        if synthesis is not None and reader.keys != ("image",):
            raise DataConfigError(
                f"synthesis=... makes fake face frames and does not apply to {keys} items: use synthesis=none"
            )
        if reader.keys == ("audio",) and train_transform is not None and not isinstance(train_transform, AudioAugment):
            raise DataConfigError(
                f"data.train_transform is a {type(train_transform).__name__}, not an audio augmentation: audio data "
                "takes dfdet.transforms.audio.AudioAugment or null (do not combine augment=... with audio data)"
            )
        if paired and (balance or synthesis is not None):
            raise DataConfigError(
                "data.paired=true draws fakes with their own real videos; it cannot be combined with data.balance=true "
                "or synthesis=..."
            )
        if paired and (batch_size < 2 or batch_size % 2):
            raise DataConfigError(f"data.paired=true needs an even data.batch_size (pairs), got {batch_size}")
        if leave_out is not None and (methods is not None or test_methods is not None):
            raise DataConfigError("data.leave_out=... chooses the methods itself: do not also set data.methods")
        self.paired = paired
        # methods() is the per-video method lookup: the selections keep other names
        self.train_methods = None if methods is None else [str(m) for m in methods]
        self.test_methods = None if test_methods is None else [str(m) for m in test_methods]
        self.leave_out = leave_out
        if trim_silence:
            if not hasattr(reader, "trim_silence"):
                raise DataConfigError(f"data.trim_silence applies to items with sound, not to {keys} items")
            reader.trim_silence = True  # type: ignore[attr-defined]
        self.source = source
        self.reader = reader
        self.modality = modality
        self.train_transform = train_transform if train_transform is not None else eval_transform
        self.eval_transform = eval_transform
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.check_files = check_files
        self.root = root
        self.synthesis = synthesis
        self.balance = balance
        self.seed = seed
        self.manifest: pd.DataFrame | None = None
        self.datasets: dict[str, Dataset] = {}

    def check(self) -> None:
        """Fails fast, with one clear message, when the data is missing or malformed."""
        self.source.check()

    def prepare_data(self) -> None:
        self.source.prepare()

    def setup(self, stage: str | None = None) -> None:
        if self.manifest is not None:
            return
        manifest = self.source.manifest().reset_index(drop=True)
        id_column = self.source.id_column
        validate_manifest(manifest, where=self.source.name, id_column=id_column)
        manifest = self._select_methods(manifest)  # before numbering videos: video_idx indexes video_names()
        if self.check_files:
            missing = [p for p in manifest["path"] if not os.path.exists(p)]
            if missing:
                raise ManifestError(
                    f"{self.source.name}: {len(missing)} of {len(manifest)} listed files are missing, e.g. {missing[0]}"
                )
        if "frame_index" not in manifest.columns:
            manifest["frame_index"] = 0  # one item per utterance or image
        keys = video_keys(manifest, id_column)
        if self.reader.keys == ("audio",) and keys.duplicated().any():
            raise ManifestError(
                f"{self.source.name}: {id_column} is not unique, e.g. {keys[keys.duplicated()].iloc[0]}"
            )
        manifest["video_idx"] = pd.Categorical(keys).codes.astype(np.int64)
        self.manifest = manifest
        for split in SPLITS:
            if not (manifest["split"] == split).any():
                continue
            rows = split_frames(manifest, split)
            train = split == "train"
            video_idx = rows["video_idx"].to_numpy()
            if train and self.synthesis is not None:
                transform = self.train_transform or self.eval_transform
                if transform is None:
                    raise DataConfigError("fake synthesis needs an image transform (data.eval_transform)")
                self.datasets[split] = SynthesizedFrameDataset(rows, video_idx, transform, self.synthesis)
                continue
            transform = self.train_transform if train else self.eval_transform
            seed = None if self.seed is None else rank_seed(self.seed)  # ranks draw different crops
            self.datasets[split] = self.reader.dataset(rows, video_idx, transform, train, seed)
            if train and self.paired:
                self.datasets[split] = paired_dataset(self.datasets[split], manifest, id_column)

    def _select_methods(self, manifest: pd.DataFrame) -> pd.DataFrame:
        """Keeps the fakes of the chosen methods (``methods`` for train and val, ``test_methods`` for test) and every
        real; raises :class:`DataConfigError` naming an unknown method."""
        present = sorted(set(manifest.loc[manifest["label"] == 1, "method"].astype(str)))
        train_methods, test_methods = self.train_methods, self.test_methods
        if self.leave_out is not None:
            train_methods = [m for m in present if m != self.leave_out]
            test_methods = [self.leave_out]
        elif test_methods is None:
            test_methods = train_methods
        for option, chosen in (("methods", train_methods), ("test_methods", test_methods)):
            unknown = sorted(set(chosen or ()) - set(present))
            if unknown:
                name = "leave_out" if self.leave_out is not None else option
                raise DataConfigError(
                    f"data.{name}: {self.source.name} has no fakes of method(s) {', '.join(unknown)}; its methods: "
                    f"{', '.join(present)}"
                )
        if train_methods is None and test_methods is None:
            return manifest
        method = manifest["method"].astype(str)
        keep = manifest["label"] == 0
        for splits, chosen in ((("train", "val"), train_methods), (("test",), test_methods)):
            in_splits = manifest["split"].isin(splits)
            keep |= in_splits & (method.isin(chosen) if chosen is not None else True)
        return manifest[keep].reset_index(drop=True)

    def _manifest(self) -> pd.DataFrame:
        self.setup()
        assert self.manifest is not None
        return self.manifest

    def _labels(self, split: str) -> torch.Tensor:
        labels: torch.Tensor = getattr(self._dataset(split), "labels")  # noqa: B009 - every dataset here has labels
        return labels

    def class_counts(self) -> tuple[int, int]:
        """Numbers of real and fake training items."""
        labels = self._labels("train")
        return int((labels == 0).sum()), int((labels == 1).sum())

    def video_names(self) -> list[str]:
        """``dataset/<id>`` (video or utterance) for each ``video_idx`` (index into this list)."""
        return list(pd.Categorical(video_keys(self._manifest(), self.source.id_column)).categories)

    def methods(self) -> np.ndarray:
        """The ``method`` (``real``, or the manipulation / attack id) of each ``video_idx``, shape (V,) of str."""
        methods = self.per_video("method")
        assert methods is not None  # a required manifest column
        return methods

    def subsets(self) -> np.ndarray | None:
        """The ``subset`` (e.g. the generator whose test set it belongs to, reals included) of each ``video_idx``, or
        None when the manifest has no ``subset`` column."""
        return self.per_video("subset")

    def per_video(self, column: str) -> np.ndarray | None:
        """The manifest's ``column`` of each ``video_idx`` (index into the result), shape (V,) of str (e.g.
        ``speaker`` for audio); None when the manifest has no such column."""
        manifest = self._manifest()
        if column not in manifest.columns:
            return None
        by_idx = np.empty(int(manifest["video_idx"].max()) + 1, dtype=object)
        by_idx[manifest["video_idx"].to_numpy()] = manifest[column].astype(str).to_numpy()
        return by_idx

    def video_files(self, split: str) -> dict[str, Path]:
        """The source video of each video of ``split``, by ``dataset/video_id`` (from the manifest's ``source``
        column, which ``preprocess.py`` writes), e.g. to score its sound track.

        Raises:
            ManifestError: the data has no source videos (the synthetic set, or a manifest without ``source``), or
                the split has no rows.
        """
        manifest = self._manifest()
        resolve = getattr(self.source, "video_file", None)
        if resolve is None or "source" not in manifest.columns:
            raise ManifestError(
                f"{type(self.source).__name__} has no source videos: audio-visual evaluation needs a dataset "
                "preprocessed from video files (data=ffpp|celebdf|dfdc|folder, see docs/preprocessing.md)"
            )
        videos = split_frames(manifest, split).drop_duplicates(["dataset", "video_id"])
        sources = dict(zip(video_keys(videos), videos["source"].astype(str), strict=True))
        return {name: resolve(source) for name, source in sorted(sources.items())}

    def _dataset(self, split: str) -> Dataset:
        manifest = self._manifest()
        if split not in self.datasets:
            split_frames(manifest, split)  # raises the clear "no rows" error
        return self.datasets[split]

    def _loader(self, split: str, shuffle: bool) -> DataLoader:
        dataset = self._dataset(split)
        sampler = self._balanced_sampler(split) if shuffle and self.balance else None
        pairs = split == "train" and self.paired
        batch_size = self.batch_size // 2 if pairs else self.batch_size
        if getattr(dataset, "variable_size", False):  # whole images of their own sizes (crop=whole)
            batch_size = 1
        return DataLoader(
            dataset,
            batch_size=batch_size,
            collate_fn=collate_pairs if pairs else None,
            shuffle=shuffle and sampler is None,
            sampler=sampler,
            num_workers=self.num_workers,
            pin_memory=self.pin_memory,
            persistent_workers=self.num_workers > 0,
            worker_init_fn=seed_worker,
            drop_last=shuffle and len(dataset) > batch_size,  # type: ignore[arg-type]
        )

    def _balanced_sampler(self, split: str) -> WeightedRandomSampler:
        """Samples items with probability inversely proportional to the size of their class (labels 0/1)."""
        labels = self._labels(split).long()
        counts = torch.bincount(labels, minlength=2).clamp(min=1).double()
        weights = (1.0 / counts)[labels].tolist()
        return WeightedRandomSampler(weights, num_samples=len(labels), replacement=True)

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", shuffle=False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", shuffle=False)
