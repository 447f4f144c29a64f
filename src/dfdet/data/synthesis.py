"""On-the-fly fake synthesis in the training data: self-blended images and blended pairs from real frames only.

The image operations are the pure functions of :mod:`dfdet.transforms.synthesis`; this module pairs them with the
manifest (landmarks) and a per-process random generator.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import torch
from torch.utils.data import Dataset

from dfdet.data.datasets import load_rgb
from dfdet.errors import ManifestError
from dfdet.transforms.synthesis import blend_pair, self_blend

METHODS = ("sbi", "blend_pairs")


class FakeSynthesis:
    """Makes a fake from a real face crop.

    Args:
        method: ``sbi`` (Shiohara & Yamasaki, CVPR 2022: the face blended with an altered copy of itself) or
            ``blend_pairs`` (Li et al., CVPR 2020, Face X-ray: another real identity's face blended in).
        real_only: train on the real frames only (the fakes of the dataset are left out), as both papers do.
    """

    def __init__(self, method: str = "sbi", real_only: bool = True) -> None:
        if method not in METHODS:
            raise ValueError(f"synthesis method must be one of {METHODS}, got '{method}'")
        self.method = method
        self.real_only = real_only

    def __call__(
        self,
        image: np.ndarray,
        landmarks: np.ndarray,
        partner: tuple[np.ndarray, np.ndarray] | None,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """Returns the fake (H, W, 3) uint8 for ``image`` (H, W, 3) uint8 with landmarks (K, 2) or (2K,)."""
        if self.method == "sbi" or partner is None:
            return self_blend(image, landmarks, rng).fake
        return blend_pair(image, landmarks, partner[0], partner[1], rng).fake


class SynthesizedFrameDataset(Dataset):
    """Training frames where every real frame appears twice: as itself (label 0) and as a synthesised fake (1).

    Args:
        frames: manifest rows of the training split with ``landmarks`` (crop coordinates); a row's 68 points
            (``landmarks68``, written when preprocessing ran with ``preprocessor.landmarks68``) are used instead
            where present, so the blending mask follows the face contour.
        video_idx: integer video id per row.
        transform: augmentation + normalisation applied after synthesis.
        synthesis: the fake maker.
    """

    def __init__(
        self, frames: pd.DataFrame, video_idx: np.ndarray, transform: Callable, synthesis: FakeSynthesis
    ) -> None:
        if "landmarks" not in frames.columns or frames["landmarks"].isna().any():
            raise ManifestError(
                "Fake synthesis needs face landmarks for every training frame (the 'landmarks' "
                "column that preprocess.py writes)"
            )
        keep = (frames["label"] == 0).to_numpy() if synthesis.real_only else np.ones(len(frames), bool)
        if not keep.any():
            raise ManifestError("Fake synthesis needs real training frames; the training split has none")
        self.rows = frames[keep].reset_index(drop=True)
        self.video_idx = torch.tensor(np.asarray(video_idx)[keep], dtype=torch.long)
        self.transform = transform
        self.synthesis = synthesis
        self._rng: np.random.Generator | None = None
        self.labels = torch.tensor(np.tile([0.0, 1.0], len(self.rows)), dtype=torch.float32)

    @property
    def rng(self) -> np.random.Generator:
        # Created in the process that draws (each DataLoader worker), seeded from torch's per-worker seed.
        if self._rng is None:
            self._rng = np.random.default_rng(torch.initial_seed() % 2**63)
        return self._rng

    def __len__(self) -> int:
        return 2 * len(self.rows)

    def _partner(self, index: int) -> pd.Series:
        """A random real frame of another video (another identity in practice) to blend in."""
        for _ in range(20):
            j = int(self.rng.integers(len(self.rows)))
            if self.video_idx[j] != self.video_idx[index]:
                break
        return self.rows.iloc[j]

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        row = self.rows.iloc[i // 2]
        image = load_rgb(row["path"])
        fake = i % 2 == 1
        if fake:
            partner = None
            if self.synthesis.method == "blend_pairs":
                other = self._partner(i // 2)
                partner = (load_rgb(other["path"]), _landmarks(other))
            image = self.synthesis(image, _landmarks(row), partner, self.rng)
        return {
            "image": self.transform(image),
            "label": torch.tensor(float(fake)),
            "video_idx": self.video_idx[i // 2],
            "frame_index": torch.tensor(int(row["frame_index"])),
        }


def _landmarks(row: pd.Series) -> np.ndarray:
    """The row's 68-point landmarks where present and non-null, else its 5-point ones (flat, crop pixels)."""
    marks68 = row.get("landmarks68")
    if marks68 is not None and not (np.isscalar(marks68) and pd.isna(marks68)):
        return np.asarray(marks68, dtype=np.float32)
    return np.asarray(row["landmarks"], dtype=np.float32)
