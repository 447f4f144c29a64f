"""Item readers: what one item of a dataset is (a frame, a clip of frames, an audio window).

The datamodule (:class:`~dfdet.data.DeepfakeDataModule`) is the same for every modality; a reader turns the manifest
rows of one split into a torch dataset whose items carry the input under the reader's ``key``, the batch key the
model reads (its contract's :attr:`~dfdet.contract.InputContract.input_keys`):

===========================  ===========  =======================  =======================================
reader                       keys         item inputs              made from
===========================  ===========  =======================  =======================================
:class:`FrameReader`         image        (3, S, S) float          one face crop (or whole image)
:class:`ClipReader`          clip         (T, 3, S, S) float       T consecutive sampled frames of a video
:class:`AudioWindowReader`   audio        (N,) float waveform      a window of N samples of an utterance
:class:`AudioVisualReader`   clip, audio  both of the above        a clip and the sound centred on it
:class:`ImageReader`         image        (3, S, S) float          crops of a whole image (no face needed)
===========================  ===========  =======================  =======================================

Every item also has ``label`` () float (1 = fake), ``video_idx`` () long (its video or utterance) and
``frame_index`` () long. A new kind of item is a new reader here and nothing else in the datamodule.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd
from torch.utils.data import Dataset

from dfdet.data.datasets import AudioDataset, AudioVisualClipDataset, ClipDataset, FrameDataset, ImageCropDataset

# The batch keys each data modality may fill.
KEYS = {"face": ("image", "clip"), "image": ("image", "clip"), "audio": ("audio",), "audio_visual": ("clip", "audio")}


class ItemReader(Protocol):
    """Makes the dataset of one split from its manifest rows."""

    keys: tuple[str, ...]  # the batch keys its items fill (image, clip, audio)

    def dataset(
        self, rows: pd.DataFrame, video_idx: np.ndarray, transform: Callable | None, train: bool, seed: int | None
    ) -> Dataset: ...


class FrameReader:
    """One item per manifest row: a face crop (or a whole image), through ``transform``."""

    keys: tuple[str, ...] = ("image",)

    def dataset(
        self, rows: pd.DataFrame, video_idx: np.ndarray, transform: Callable | None, train: bool, seed: int | None
    ) -> Dataset:
        return FrameDataset(rows, video_idx, _required(transform, "frames"))


class ClipReader:
    """One item per clip of ``clip_len`` consecutive sampled frames, starting every ``clip_stride`` frames.

    Args:
        clip_len: frames per clip (T), the model's ``input.clip_len``.
        clip_stride: sampled frames between clip starts; None: ``clip_len`` (no overlap).
    """

    keys: tuple[str, ...] = ("clip",)

    def __init__(self, clip_len: int, clip_stride: int | None = None) -> None:
        self.clip_len = int(clip_len)
        self.clip_stride = int(clip_stride or clip_len)

    def dataset(
        self, rows: pd.DataFrame, video_idx: np.ndarray, transform: Callable | None, train: bool, seed: int | None
    ) -> Dataset:
        return ClipDataset(rows, video_idx, _required(transform, "clips"), self.clip_len, self.clip_stride)


def face_reader(clip_len: int | None = None, clip_stride: int | None = None) -> FrameReader | ClipReader:
    """The reader of face data for a model: clips when its contract has a ``clip_len``, else single frames."""
    return ClipReader(clip_len, clip_stride) if clip_len else FrameReader()


class ImageReader:
    """Whole images (AI-generated image detection): training items are the image through the training transform
    (random crops at native resolution, :func:`~dfdet.transforms.images.build_image_train_transform`); evaluation
    items are the deterministic crops the model's contract names (``crop``, ``crops``, ``resize``), one item per
    crop, averaged per image by the video-level metrics.

    Args:
        size, mean, std, crop, crops, resize: the model's input contract (``${model.input.*}``).
        train_transform: the training pipeline; None uses the datamodule's ``train_transform``.
    """

    keys: tuple[str, ...] = ("image",)

    def __init__(
        self,
        size: int,
        mean: Sequence[float],
        std: Sequence[float],
        crop: str | None = "center",
        crops: int | None = 1,
        resize: int | None = None,
        train_transform: Callable | None = None,
    ) -> None:
        self.train_transform = train_transform
        self.geometry = {
            "size": int(size),
            "mean": tuple(float(m) for m in mean),
            "std": tuple(float(s) for s in std),
            "crop": crop or "center",
            "crops": int(crops or 1),
            "resize": resize,
        }

    def dataset(
        self, rows: pd.DataFrame, video_idx: np.ndarray, transform: Callable | None, train: bool, seed: int | None
    ) -> Dataset:
        if train:
            return FrameDataset(rows, video_idx, _required(self.train_transform or transform, "training images"))
        return ImageCropDataset(rows, video_idx, **self.geometry)  # type: ignore[arg-type]


class AudioWindowReader:
    """One item per utterance: a window of ``num_samples`` samples at ``sample_rate``.

    Training items are random windows (and augmented when the datamodule has a ``train_transform``); evaluation
    items are the first window. Shorter utterances are repeat-padded.

    Args:
        num_samples: window length, the model's ``input.num_samples``.
        sample_rate: files are decoded and resampled to this rate (the model's ``input.sample_rate``).
        trim_silence: drop each utterance's leading and trailing silence first (``data.trim_silence``).
    """

    keys: tuple[str, ...] = ("audio",)

    def __init__(self, num_samples: int, sample_rate: int, trim_silence: bool = False) -> None:
        self.num_samples = int(num_samples)
        self.sample_rate = int(sample_rate)
        self.trim_silence = bool(trim_silence)

    def dataset(
        self, rows: pd.DataFrame, video_idx: np.ndarray, transform: Callable | None, train: bool, seed: int | None
    ) -> Dataset:
        rng = np.random.default_rng(seed) if train else None
        return AudioDataset(rows, video_idx, self.num_samples, self.sample_rate, rng=rng, augment=transform,
                            trim_silence=self.trim_silence)  # fmt: skip


class AudioVisualReader(ClipReader):
    """Clips of face crops with the sound centred on each (see :class:`~dfdet.data.datasets.AudioVisualClipDataset`).

    Args:
        clip_len, clip_stride: as for :class:`ClipReader` (the model's ``input.clip_len`` / ``clip_stride``).
        num_samples: sound window length, the model's ``input.num_samples``.
        sample_rate: the sound is resampled to this rate, the model's ``input.sample_rate``.
        trim_silence: leave out the clips in each video's leading and trailing silence (``data.trim_silence``).
    """

    keys = ("clip", "audio")

    def __init__(
        self, clip_len: int, clip_stride: int | None, num_samples: int, sample_rate: int, trim_silence: bool = False
    ) -> None:
        super().__init__(clip_len, clip_stride)
        self.num_samples = int(num_samples)
        self.sample_rate = int(sample_rate)
        self.trim_silence = bool(trim_silence)

    def dataset(
        self, rows: pd.DataFrame, video_idx: np.ndarray, transform: Callable | None, train: bool, seed: int | None
    ) -> Dataset:
        transform = _required(transform, "clips")
        return AudioVisualClipDataset(
            rows, video_idx, transform, self.clip_len, self.clip_stride, self.num_samples, self.sample_rate,
            trim_silence=self.trim_silence,
        )  # fmt: skip


def _required(transform: Any, what: str) -> Callable:
    if transform is None:
        raise ValueError(f"{what} need an image transform (data.eval_transform / data.train_transform)")
    return transform
