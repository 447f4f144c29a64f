"""Torch datasets over manifest rows."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import torch
from PIL import Image, UnidentifiedImageError
from torch.utils.data import Dataset

from dfdet.errors import ManifestError


def load_rgb(path: str) -> np.ndarray:
    """Reads an image file as an RGB uint8 array (H, W, 3); raises :class:`ManifestError` naming a broken file."""
    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"))
    except (OSError, UnidentifiedImageError) as exc:
        raise ManifestError(f"Cannot read image {path}: {exc}") from exc


class FrameDataset(Dataset):
    """One item per manifest row (a face crop of one frame).

    Args:
        frames: manifest rows with absolute ``path``, ``label`` and ``frame_index``.
        video_idx: integer id of each row's video, shape (len(frames),), stable across splits.
        transform: maps an RGB uint8 array to a float tensor (3, S, S).

    Items are dicts: ``input`` (3, S, S) float, ``label`` () float (1 = fake), ``video_idx`` () long,
    ``frame_index`` () long. A broken file raises; it is never silently replaced by another sample.
    """

    def __init__(
        self, frames: pd.DataFrame, video_idx: np.ndarray, transform: Callable[[np.ndarray], torch.Tensor]
    ) -> None:
        self.paths = frames["path"].tolist()
        self.labels = torch.tensor(frames["label"].to_numpy(), dtype=torch.float32)
        self.frame_index = torch.tensor(frames["frame_index"].to_numpy(), dtype=torch.long)
        self.video_idx = torch.tensor(video_idx, dtype=torch.long)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return {
            "input": self.transform(load_rgb(self.paths[i])),
            "label": self.labels[i],
            "video_idx": self.video_idx[i],
            "frame_index": self.frame_index[i],
        }
