"""Torch datasets over manifest rows."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, cast

import numpy as np
import pandas as pd
import torch
from PIL import Image, ImageOps, UnidentifiedImageError
from torch.utils.data import Dataset

from dfdet.data.audio.crops import fixed_crop
from dfdet.data.audio.io import load_audio
from dfdet.data.audio.silence import speech_span, trim_silence
from dfdet.errors import ManifestError
from dfdet.preprocess.video import rgb_array

if TYPE_CHECKING:
    from dfdet.transforms.presets import AlbumentationsTransform


def load_rgb(path: str) -> np.ndarray:
    """Reads an image file as an RGB uint8 array (H, W, 3), EXIF orientation applied as prediction does; raises
    :class:`ManifestError` naming a broken file."""
    try:
        with Image.open(path) as img:
            return rgb_array(ImageOps.exif_transpose(img))  # 16-bit greyscale scaled, not clipped
    except (OSError, UnidentifiedImageError) as exc:
        raise ManifestError(f"Cannot read image {path}: {exc}") from exc


class FrameDataset(Dataset):
    """One item per manifest row (a face crop of one frame).

    Args:
        frames: manifest rows with absolute ``path``, ``label`` and ``frame_index``.
        video_idx: integer id of each row's video, shape (len(frames),), stable across splits.
        transform: maps an RGB uint8 array to a float tensor (3, S, S).

    Items are dicts: ``image`` (3, S, S) float, ``label`` () float (1 = fake), ``video_idx`` () long,
    ``frame_index`` () long. A broken file raises; it is never silently replaced by another sample.
    """

    def __init__(self, frames: pd.DataFrame, video_idx: np.ndarray, transform: Callable[..., torch.Tensor]) -> None:
        self.paths = frames["path"].tolist()
        self.labels = torch.tensor(frames["label"].to_numpy(), dtype=torch.float32)
        self.frame_index = torch.tensor(frames["frame_index"].to_numpy(), dtype=torch.long)
        self.video_idx = torch.tensor(video_idx, dtype=torch.long)
        self.transform = transform
        has_landmarks = "landmarks" in frames.columns and getattr(transform, "face_cutout_p", 0) > 0
        self.landmarks = frames["landmarks"].tolist() if has_landmarks else None

    def __len__(self) -> int:
        return len(self.paths)

    def _transform(self, i: int, image: np.ndarray) -> torch.Tensor:
        lms = self.landmarks[i] if self.landmarks is not None else None
        if lms is None or (isinstance(lms, float) and np.isnan(lms)):
            return self.transform(image)
        return self.transform(image, np.asarray(lms, dtype=np.float32))  # face-part cut-outs need the landmarks

    def raw_key(self, i: int) -> int:
        """The decoded media item ``i`` is made from (perturbation sweeps cache and distort it once)."""
        return i

    def raw(self, i: int) -> np.ndarray:
        """The decoded media of item ``i``: the RGB crop (H, W, 3) uint8."""
        return load_rgb(self.paths[i])

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return self.from_raw(i, self.raw(i))

    def from_raw(self, i: int, image: np.ndarray) -> dict[str, torch.Tensor]:
        """Item ``i`` made from its decoded (possibly distorted) media."""
        return {
            "image": self._transform(i, image),
            "label": self.labels[i],
            "video_idx": self.video_idx[i],
            "frame_index": self.frame_index[i],
        }


def clip_starts(n_frames: int, clip_len: int, stride: int) -> list[int]:
    """Start positions of the clips of a video with ``n_frames`` sampled frames.

    Clips are ``clip_len`` consecutive sampled frames, starting every ``stride`` frames; a video shorter than a clip
    gives one clip padded by repeating its last frame.
    """
    if n_frames <= clip_len:
        return [0]
    return list(range(0, n_frames - clip_len + 1, stride))


class ClipDataset(Dataset):
    """One item per clip: ``clip_len`` consecutive sampled frames of one video (see :func:`clip_starts`).

    Args:
        frames: manifest rows with absolute ``path``, ``label``, ``video_id``/``dataset`` and ``frame_index``.
        video_idx: integer id of each row's video, shape (len(frames),).
        transform: an :class:`~dfdet.transforms.presets.AlbumentationsTransform`; all frames of a clip get the same
            random parameters.
        clip_len: frames per clip (T).
        stride: frames between clip starts.

    Items: ``clip`` (T, 3, S, S), ``label`` () float (the video's), ``video_idx`` () long, ``frame_index`` () long
    (the first frame's index in the source video), so clip scores aggregate to video scores like frame scores do.
    """

    def __init__(
        self, frames: pd.DataFrame, video_idx: np.ndarray, transform: Callable, clip_len: int, stride: int
    ) -> None:
        rows = frames.assign(_video=video_idx).sort_values(["_video", "frame_index"], kind="stable")
        self.transform = cast("AlbumentationsTransform", transform)  # clips need its clip()
        self.clips: list[tuple[list[str], float, int, int]] = []
        for vid, group in rows.groupby("_video", sort=True):
            paths, indices = group["path"].tolist(), group["frame_index"].tolist()
            label = float(group["label"].max())
            for start in clip_starts(len(paths), clip_len, stride):
                chosen = [paths[min(start + k, len(paths) - 1)] for k in range(clip_len)]
                self.clips.append((chosen, label, int(vid), int(indices[start])))
        self.labels = torch.tensor([c[1] for c in self.clips], dtype=torch.float32)
        self.video_idx = torch.tensor([c[2] for c in self.clips], dtype=torch.long)
        self.frame_index = torch.tensor([c[3] for c in self.clips], dtype=torch.long)

    def __len__(self) -> int:
        return len(self.clips)

    def raw_key(self, i: int) -> int:
        return i

    def raw(self, i: int) -> np.ndarray:
        """The decoded frames of clip ``i``, (T, H, W, 3) uint8."""
        return np.stack([load_rgb(p) for p in self.clips[i][0]])

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return self.from_raw(i, self.raw(i))

    def from_raw(self, i: int, frames: np.ndarray) -> dict[str, torch.Tensor]:
        _, label, vid, first = self.clips[i]
        return {
            "clip": self.transform.clip(frames),
            "label": torch.tensor(label),
            "video_idx": torch.tensor(vid),
            "frame_index": torch.tensor(first),
        }


class AudioDataset(Dataset):
    """One item per manifest row (one utterance).

    Args:
        rows: manifest rows with absolute ``path``, ``label``.
        video_idx: integer id of each row's utterance, shape (len(rows),), stable across splits.
        num_samples: crop length in samples.
        sample_rate: decode/resample to this rate, Hz.
        rng: random crops and augmentation (training); None gives deterministic first-window crops (evaluation).
            Dataloader workers reseed it (:meth:`reseed`, called by :func:`~dfdet.transforms.seed_worker`).
        augment: optional waveform augmentation applied after cropping (training only).
        trim_silence: drop each utterance's leading and trailing silence before cropping
            (:func:`dfdet.data.audio.silence.trim_silence`).

    Items are dicts: ``audio`` (num_samples,) float32, ``label`` () float (1 = fake), ``video_idx`` () long (the
    utterance), ``frame_index`` () long (0: one crop per utterance). A broken file raises, naming it.
    """

    def __init__(
        self,
        rows: pd.DataFrame,
        video_idx: np.ndarray,
        num_samples: int,
        sample_rate: int = 16000,
        rng: np.random.Generator | None = None,
        augment: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
        trim_silence: bool = False,
    ) -> None:
        self.paths = rows["path"].tolist()
        self.trim_silence = trim_silence
        self.labels = torch.tensor(rows["label"].to_numpy(), dtype=torch.float32)
        self.video_idx = torch.tensor(video_idx, dtype=torch.long)
        self.num_samples = int(num_samples)
        self.sample_rate = int(sample_rate)
        self.rng = rng
        self.augment = augment

    def __len__(self) -> int:
        return len(self.paths)

    def reseed(self, seed: int) -> None:
        """Gives this process's copy its own crop/augmentation generator (training datasets only)."""
        if self.rng is not None:
            self.rng = np.random.default_rng(seed)

    def raw_key(self, i: int) -> int:
        return i

    def raw(self, i: int) -> np.ndarray:
        """The whole decoded utterance (N,) float32 at ``sample_rate`` (without its leading and trailing silence
        with ``trim_silence``)."""
        wave = load_audio(self.paths[i], self.sample_rate)
        return trim_silence(wave, self.sample_rate) if self.trim_silence else wave

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return self.from_raw(i, self.raw(i))

    def from_raw(self, i: int, utterance: np.ndarray) -> dict[str, torch.Tensor]:
        wave = fixed_crop(utterance, self.num_samples, self.rng)
        if self.augment is not None and self.rng is not None:
            wave = self.augment(wave, self.rng)
        return {
            "audio": torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32)),
            "label": self.labels[i],
            "video_idx": self.video_idx[i],
            "frame_index": torch.tensor(0, dtype=torch.long),
        }


class AudioVisualClipDataset(ClipDataset):
    """Clips of face crops with the sound around them, for audio-visual models.

    Each clip of :class:`ClipDataset` gets the ``num_samples`` samples of its video's sound track centred on the
    clip's time span (from the sampled frames' indices and the video's frame rate), zero-padded at the track's ends.
    A video without sound gives silence and ``audio_present`` 0.

    Args:
        frames: manifest rows with ``source_path`` (the source video, which :class:`~dfdet.data.sources.ProcessedSource`
            adds) besides the columns :class:`ClipDataset` reads.
        video_idx, transform, clip_len, stride: as for :class:`ClipDataset`.
        num_samples: sound window length.
        sample_rate: the sound is decoded and resampled to this rate.
        cache_videos: sound tracks kept in memory per process (least recently used are dropped).
        trim_silence: leave out the clips whose centre lies in the video's leading or trailing silence
            (:func:`dfdet.data.audio.silence.speech_span`; videos without sound keep every clip).

    Items: ``clip`` (T, 3, S, S), ``audio`` (num_samples,) float32, ``audio_present`` () float, ``label``,
    ``video_idx``, ``frame_index`` as for clips, and the labels audio-visual datasets add (-1 where a dataset has
    none): ``video_label`` and ``audio_label`` () float (is the face / the voice manipulated, manifest columns of
    the same names), ``segment_label`` () float (does the clip overlap a ``fake_segments`` interval). The sound
    track's start offset in the container is not applied.
    """

    def __init__(
        self,
        frames: pd.DataFrame,
        video_idx: np.ndarray,
        transform: Callable,
        clip_len: int,
        stride: int,
        num_samples: int,
        sample_rate: int,
        cache_videos: int = 32,
        trim_silence: bool = False,
    ) -> None:
        if "source_path" not in frames.columns:
            raise ManifestError(
                "audio-visual items need each frame's source video (the 'source' column preprocess.py writes, read "
                "from the release folder at data.root)"
            )
        super().__init__(frames, video_idx, transform, clip_len, stride)
        rows = frames.assign(_video=video_idx).sort_values(["_video", "frame_index"], kind="stable")
        self.spans: list[tuple[str, int, int]] = []  # per clip: source video, first and last sampled frame index
        self.modality_labels: list[tuple[float, float, str | None]] = []  # per clip: video, audio label, segments
        for _, group in rows.groupby("_video", sort=True):
            source, indices = str(group["source_path"].iloc[0]), group["frame_index"].tolist()
            first_row = group.iloc[0]
            notes = (_modality(first_row, "video"), _modality(first_row, "audio"))
            segments = first_row.get("fake_segments")
            for start in clip_starts(len(indices), clip_len, stride):
                last = indices[min(start + clip_len, len(indices)) - 1]
                self.spans.append((source, int(indices[start]), int(last)))
                self.modality_labels.append((*notes, segments if isinstance(segments, str) else None))
        self.num_samples = int(num_samples)
        self.sample_rate = int(sample_rate)
        self.cache_videos = cache_videos
        self._tracks: dict[str, tuple[np.ndarray, float] | None] = {}
        if trim_silence:
            self._keep_speech()

    def _keep_speech(self) -> None:
        """Drops the clips whose centre lies outside their video's speech (between leading and trailing silence)."""
        keep = []
        for source, first, last in self.spans:
            track = self._track(source)
            if track is None:
                keep.append(True)
                continue
            start, end = speech_span(track[0], self.sample_rate)
            centre = (first + last + 1) / 2 / track[1] * self.sample_rate
            keep.append(start <= centre < end)
        self.clips = [c for c, k in zip(self.clips, keep, strict=True) if k]
        self.spans = [s for s, k in zip(self.spans, keep, strict=True) if k]
        self.modality_labels = [m for m, k in zip(self.modality_labels, keep, strict=True) if k]
        self.labels = self.labels[torch.tensor(keep, dtype=torch.bool)]

    def _track(self, source: str) -> tuple[np.ndarray, float] | None:
        from dfdet.data.audio.io import NoAudioTrackError, extract_audio_track, video_frame_rate

        if source not in self._tracks:
            if len(self._tracks) >= self.cache_videos:
                self._tracks.pop(next(iter(self._tracks)))
            try:
                self._tracks[source] = (extract_audio_track(source, self.sample_rate), video_frame_rate(source))
            except NoAudioTrackError:
                self._tracks[source] = None
        else:
            self._tracks[source] = self._tracks.pop(source)  # most recently used last
        return self._tracks[source]

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        item = super().__getitem__(i)
        source, first, last = self.spans[i]
        track = self._track(source)
        audio = np.zeros(self.num_samples, np.float32)
        if track is not None:
            from dfdet.data.audio.crops import centred_window

            wave, fps = track
            audio = centred_window(wave, (first + last + 1) / 2 / fps * self.sample_rate, self.num_samples)
        item["audio"] = torch.from_numpy(audio)
        item["audio_present"] = torch.tensor(float(track is not None))
        video_label, audio_label, segments = self.modality_labels[i]
        item["video_label"], item["audio_label"] = torch.tensor(video_label), torch.tensor(audio_label)
        rate = track[1] if track is not None else None
        item["segment_label"] = torch.tensor(_segment_label(segments, first, last, rate))
        return item


def _modality(row: pd.Series, which: str) -> float:
    """Whether the ``video`` or ``audio`` of a manifest row's video is manipulated: its ``<which>_label`` column,
    else whether its ``visual_fake_segments`` / ``audio_fake_segments`` list is non-empty, else -1 (unknown)."""
    label = _known(row.get(f"{which}_label"))
    segments = row.get(f"{'visual' if which == 'video' else 'audio'}_fake_segments")
    if label < 0 and isinstance(segments, str):
        import json

        return float(bool(json.loads(segments)))
    return label


def _known(value: object) -> float:
    """A 0/1 label of the manifest, or -1 where the dataset has none (NaN, absent)."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return -1.0
    return number if number == number else -1.0


def _segment_label(segments: str | None, first: int, last: int, fps: float | None) -> float:
    """1 when the clip's time span (frames ``first``..``last`` at ``fps``) overlaps a fake segment by at least half
    a frame, 0 when it overlaps none, -1 when the video has no segment labels (or no frame rate to place them)."""
    if segments is None or not fps:
        return -1.0
    import json

    start, end = first / fps, (last + 1) / fps
    overlap = max((min(end, b) - max(start, a) for a, b in json.loads(segments)), default=0.0)
    return float(overlap >= 0.5 / fps)


class ImageCropDataset(Dataset):
    """Whole images for evaluation: one item per crop of each image (:func:`dfdet.transforms.crops.image_inputs`),
    so a ``grid`` of crops is averaged per image like frames per video.

    Args:
        rows: manifest rows with absolute ``path`` and ``label``.
        video_idx: integer id of each row's image, shape (len(rows),).
        size, mean, std, crop, crops, resize: the model's input contract (see :class:`~dfdet.contract.InputContract`).

    Items: ``image`` (3, size, size) float (``crop=whole``: (3, H, W) of the image itself), ``label`` () float,
    ``video_idx`` () long (the image), ``frame_index`` () long (the crop's number).
    """

    def __init__(
        self,
        rows: pd.DataFrame,
        video_idx: np.ndarray,
        size: int,
        mean: tuple[float, ...],
        std: tuple[float, ...],
        crop: str = "center",
        crops: int = 1,
        resize: int | None = None,
    ) -> None:
        self.paths = rows["path"].tolist()
        self.per_image = int(crops) if crop == "grid" else 1
        self.variable_size = crop == "whole"  # items of each image's own size: the loader batches one at a time
        self.labels = torch.tensor(np.repeat(rows["label"].to_numpy(), self.per_image), dtype=torch.float32)
        self.video_idx = torch.tensor(np.repeat(np.asarray(video_idx), self.per_image), dtype=torch.long)
        self.geometry = {"size": size, "mean": mean, "std": std, "crop": crop, "crops": crops, "resize": resize}

    def __len__(self) -> int:
        return len(self.labels)

    def raw_key(self, i: int) -> int:
        """Every crop of an image is made from the same decoded (and distorted) image."""
        return i // self.per_image

    def raw(self, i: int) -> np.ndarray:
        return load_rgb(self.paths[self.raw_key(i)])

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        return self.from_raw(i, self.raw(i))

    def from_raw(self, i: int, decoded: np.ndarray) -> dict[str, torch.Tensor]:
        from dfdet.transforms.crops import image_inputs

        k = i % self.per_image
        inputs = image_inputs(decoded, **self.geometry)  # type: ignore[arg-type]
        return {
            "image": torch.from_numpy(inputs[k]),
            "label": self.labels[i],
            "video_idx": self.video_idx[i],
            "frame_index": torch.tensor(k, dtype=torch.long),
        }
