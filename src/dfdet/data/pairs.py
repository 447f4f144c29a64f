"""Paired sampling: each fake item drawn together with the real item of the video it was made from.

GenD (Yermakov et al., "Deepfake Detection that Generalizes Across Benchmarks", WACV 2026) trains on batches of
real/fake pairs from the same source video, so that the only difference the detector can learn within a pair is the
manipulation, not the person, scene or compression; earlier work pairs the same way (e.g. the consistency pairs of
face-swap datasets, DeepfakeBench's paired loaders). The release readers record the real video of each fake in the
manifest's ``original`` column (FF++ ``a_b`` from ``youtube/a``, DFD from the actor video, Celeb-DF
``id0_id1_0000`` from ``Celeb-real/id0_0000``, DFDC training parts from their metadata's ``original``; the
built-in synthetic set by its names).

A fake item is paired with the real item of its original video at the nearest frame index (the same frame where the
fake was made frame by frame, as in FF++). Pairs are the dataset's items; :func:`collate_pairs` flattens a batch of
pairs into an ordinary batch (fake, real, fake, real, ...), so models, losses and metrics see ordinary batches and
DDP's sampler splits pairs, never their halves.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset, default_collate

from dfdet.data.manifest import video_keys
from dfdet.errors import DfdetError


class PairingError(DfdetError):
    """Paired sampling cannot be used with this data (no ``original`` column, or no fake finds its real video)."""


def item_index(dataset: Dataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(video_idx, frame_index, label)`` of every item of a frame or clip dataset, as arrays of shape (N,)."""
    try:
        video_idx = getattr(dataset, "video_idx")  # noqa: B009 - frame and clip datasets have these
        frame_index = getattr(dataset, "frame_index")  # noqa: B009
        labels = getattr(dataset, "labels")  # noqa: B009
    except AttributeError as exc:
        raise PairingError(
            f"data.paired=true pairs frames or clips of videos; a {type(dataset).__name__} has no per-item video and "
            "frame index"
        ) from exc
    return np.asarray(video_idx), np.asarray(frame_index), np.asarray(labels).astype(np.int64)


def original_video_idx(manifest: pd.DataFrame, id_column: str = "video_id") -> dict[int, int]:
    """``video_idx`` of a fake -> ``video_idx`` of the real video it was made from, for every fake whose
    ``original`` is a real video of the same dataset in ``manifest`` (which has ``video_idx``).

    Raises:
        PairingError: the manifest has no ``original`` column.
    """
    if "original" not in manifest.columns:
        raise PairingError(
            "data.paired=true needs the manifest's 'original' column (the real video each fake was made from). "
            "Manifests written before it existed lack it: run preprocess.py again on the same data (finished videos "
            "are not processed again; only the manifest is rewritten). Folders of your own do not say which real "
            "video a fake comes from."
        )
    videos = manifest.drop_duplicates("video_idx")
    idx_of = dict(zip(video_keys(videos, id_column), videos["video_idx"].astype(int), strict=True))
    real = set(videos.loc[videos["label"] == 0, "video_idx"].astype(int))
    fakes = videos[(videos["label"] == 1) & (videos["original"].fillna("").astype(str) != "")]
    wanted = fakes["dataset"].astype(str) + "/" + fakes["original"].astype(str)
    pairs = {}
    for fake, key in zip(fakes["video_idx"].astype(int), wanted, strict=True):
        real_idx = idx_of.get(key)
        if real_idx is not None and real_idx in real:
            pairs[fake] = real_idx
    return pairs


def pair_items(
    video_idx: np.ndarray, frame_index: np.ndarray, labels: np.ndarray, original: Mapping[int, int]
) -> np.ndarray:
    """The (fake item, real item) pairs of one split: each fake item whose video's original has real items in the
    split, with the real item of the nearest frame index (the lower one on a tie).

    Returns:
        (P, 2) int64 array of item indices, in item order of the fakes.
    """
    by_video: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    real_items = np.flatnonzero(labels == 0)
    order = np.lexsort((frame_index[real_items], video_idx[real_items]))
    real_items = real_items[order]
    starts: list[int] = (
        np.flatnonzero(np.r_[True, np.diff(video_idx[real_items]) != 0]).tolist() if len(real_items) else []
    )
    for start, end in zip(starts, [*starts[1:], len(real_items)], strict=True):
        items = real_items[start:end]
        by_video[int(video_idx[items[0]])] = (items, frame_index[items])
    pairs = []
    for item in np.flatnonzero(labels == 1):
        real = by_video.get(original.get(int(video_idx[item]), -1))
        if real is None:
            continue
        items, frames = real
        pairs.append((item, items[int(np.argmin(np.abs(frames - frame_index[item])))]))
    return np.asarray(pairs, dtype=np.int64).reshape(-1, 2)


class PairedDataset(Dataset):
    """Items are (fake, real) pairs of a base dataset's items; use with :func:`collate_pairs`.

    Args:
        base: the split's frame or clip dataset.
        pairs: (P, 2) item indices from :func:`pair_items`.
    """

    def __init__(self, base: Dataset, pairs: np.ndarray) -> None:
        self.base = base
        self.pairs = pairs
        self.labels = torch.tensor([1.0, 0.0]).repeat(len(pairs))  # what the loader delivers, for class counts

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int) -> tuple[Any, Any]:
        fake, real = self.pairs[i]
        return self.base[int(fake)], self.base[int(real)]

    def reseed(self, seed: int) -> None:
        """Passes a worker's seed on to the base dataset (where its random crops draw from one)."""
        if hasattr(self.base, "reseed"):
            self.base.reseed(seed)


def collate_pairs(batch: Sequence[tuple[Any, Any]]) -> Any:
    """A batch of B pairs as an ordinary batch of 2B items: fake, real, fake, real, ..."""
    return default_collate([item for pair in batch for item in pair])


def paired_dataset(base: Dataset, manifest: pd.DataFrame, id_column: str = "video_id") -> PairedDataset:
    """The paired training dataset of ``base`` (a split of ``manifest``, which has ``video_idx``).

    Raises:
        PairingError: no ``original`` column, or no fake of the split finds real items of its original video.
    """
    video_idx, frame_index, labels = item_index(base)
    pairs = pair_items(video_idx, frame_index, labels, original_video_idx(manifest, id_column))
    if not len(pairs):
        raise PairingError(
            f"data.paired=true: none of the {int((labels == 1).sum())} fake training items has its real video "
            "(the manifest's 'original') in the training split"
        )
    return PairedDataset(base, pairs)
