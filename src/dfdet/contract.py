"""The input contract a detector owns: what it takes, how that input is made, and the batch key it reads.

Like timm's ``pretrained_cfg`` / ``resolve_model_data_config``, the contract is part of the model, not of the data:
it is a hyperparameter of :class:`~dfdet.models.DeepfakeDetector` (``model.input`` in the configs), stored in every
checkpoint, written into the ONNX / TorchScript metadata and read back by evaluation, export, prediction and serving.
Data configs read it (``${model.input.size}``); nothing reads a copy of the training data config.

This module is stdlib-only, so the ONNX prediction path can read contracts without importing torch.

Example:
    >>> face = InputContract(modality="face", size=96)
    >>> face.input_key, face.shape(2), face.preprocessing
    ('image', (2, 3, 96, 96), 'face_crop')
    >>> clip = InputContract.from_dict({**face.to_dict(), "clip_len": 8, "clip_stride": 4})
    >>> clip.input_key, clip.shape("batch")
    ('clip', ('batch', 8, 3, 96, 96))
    >>> InputContract(modality="audio", num_samples=64000, sample_rate=16000).shape(1)
    (1, 64000)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from dfdet.errors import DfdetError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DEFAULT_SAMPLE_RATE = 16000

# What each modality's input is made from; the predictor registers one preprocessor per modality.
PREPROCESSING = {
    "face": "face_crop",  # the face pipeline: detect, track, square crop with margin, resize to size x size
    "image": "whole_image",  # the whole image resized to size x size, no face needed
    "audio": "waveform_window",  # mono waveform at sample_rate, windows of num_samples
    "audio_visual": "face_clip_with_sound",  # a clip of face crops and the sound around it (num_samples)
}
MODALITIES = tuple(PREPROCESSING)
# whole images in evaluation and prediction: one centre crop, a grid averaged, or the whole image at once (batch 1)
IMAGE_CROPS = ("center", "grid", "whole")

# Bounds on every size a config can ask for, so a mistake fails with one line instead of a huge allocation.
MAX_SIDE = 4096
MAX_CLIP_LEN = 256
MIN_SAMPLES, MAX_SAMPLES = 1600, 16000 * 600  # 0.1 s .. 10 min at 16 kHz
MIN_RATE, MAX_RATE = 1000, 192000


class ContractError(DfdetError):
    """An input contract that is malformed, out of bounds, or does not fit the data or the input."""


def _bounded(name: str, value: Any, low: int, high: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ContractError(f"model.input.{name}={value!r} must be an integer") from None
    if number != value and not isinstance(value, str):
        raise ContractError(f"model.input.{name}={value!r} must be an integer")
    if not low <= number <= high:
        raise ContractError(f"model.input.{name}={number} is out of range [{low}, {high}]")
    return number


@dataclass(frozen=True)
class InputContract:
    """What a detector takes as input.

    Attributes:
        modality: ``face`` (face crops of images or video frames), ``image`` (whole images), ``audio``
            (waveforms) or ``audio_visual`` (a clip of face crops with the sound around it: both inputs).
        size: side of the square RGB input in pixels (face and image models).
        mean: per-channel mean of the normalisation of RGB values scaled to [0, 1] (ImageNet's by default; None
            for audio models).
        std: per-channel standard deviation of that normalisation.
        clip_len: frames per clip for clip models, which take (B, T, 3, H, W); None for frame models (B, 3, H, W).
        clip_stride: sampled frames between clip starts (clip models).
        num_samples: window length in samples (audio and audio-visual models; waveforms (B, N)).
        sample_rate: waveform rate in Hz (audio and audio-visual models).
        crop_margin: face models: margin added on each side of the face box, as a fraction of its longer side.
        crop: whole-image models: how evaluation and prediction crop ``size`` x ``size`` from an image (training
            always takes random crops): ``center``, or ``grid`` (``crops`` crops spread over the image, scores
            averaged). Images smaller than ``size`` are padded (reflection), never upscaled.
        crops: the number of ``grid`` crops (corners and centre for 5).
        resize: whole-image models: the shorter side images are resized to before cropping; None keeps the native
            resolution (the default: resizing erases the up-sampling traces generators leave).
    """

    modality: str = "face"
    size: int | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    clip_len: int | None = None
    clip_stride: int | None = None
    num_samples: int | None = None
    sample_rate: int | None = None
    crop_margin: float | None = None
    crop: str | None = None
    crops: int | None = None
    resize: int | None = None

    def __post_init__(self) -> None:
        if self.modality not in MODALITIES:
            raise ContractError(f"model.input.modality='{self.modality}' is not one of {', '.join(MODALITIES)}")
        set_ = object.__setattr__
        if self.modality == "audio":
            if self.num_samples is None or self.sample_rate is None:
                raise ContractError("an audio model's input needs model.input.num_samples and model.input.sample_rate")
            set_(self, "num_samples", _bounded("num_samples", self.num_samples, MIN_SAMPLES, MAX_SAMPLES))
            set_(self, "sample_rate", _bounded("sample_rate", self.sample_rate, MIN_RATE, MAX_RATE))
            for name in ("size", "mean", "std", "clip_len", "clip_stride", "crop_margin", "crop", "crops", "resize"):
                if getattr(self, name) is not None:
                    raise ContractError(f"model.input.{name} does not apply to audio models (set it to null)")
            return
        if self.size is None:
            raise ContractError(f"a {self.modality} model's input needs model.input.size (the side in pixels)")
        set_(self, "size", _bounded("size", self.size, 8, MAX_SIDE))
        try:
            mean = tuple(float(m) for m in (IMAGENET_MEAN if self.mean is None else self.mean))
            std = tuple(float(s) for s in (IMAGENET_STD if self.std is None else self.std))
        except (TypeError, ValueError):
            raise ContractError(
                f"model.input.mean/std must be lists of 3 numbers (got {self.mean}, {self.std})"
            ) from None
        if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
            raise ContractError(f"model.input.mean/std need 3 values each, std > 0 (got {mean}, {std})")
        set_(self, "mean", mean)
        set_(self, "std", std)
        if self.modality == "audio_visual":
            if None in (self.num_samples, self.sample_rate, self.clip_len):
                raise ContractError("an audio-visual model's input needs clip_len, num_samples and sample_rate")
            set_(self, "num_samples", _bounded("num_samples", self.num_samples, MIN_SAMPLES, MAX_SAMPLES))
            set_(self, "sample_rate", _bounded("sample_rate", self.sample_rate, MIN_RATE, MAX_RATE))
        elif self.num_samples is not None or self.sample_rate is not None:
            raise ContractError(f"model.input.num_samples/sample_rate do not apply to {self.modality} models")
        if self.clip_len is not None:
            set_(self, "clip_len", _bounded("clip_len", self.clip_len, 1, MAX_CLIP_LEN))
            stride = self.clip_len if self.clip_stride is None else self.clip_stride
            set_(self, "clip_stride", _bounded("clip_stride", stride, 1, MAX_CLIP_LEN))
        elif self.clip_stride is not None:
            set_(self, "clip_stride", None)  # frame models have no clips
        self._check_image_crops()
        if self.crop_margin is not None:
            if not isinstance(self.crop_margin, int | float) or isinstance(self.crop_margin, bool):
                raise ContractError(f"model.input.crop_margin={self.crop_margin!r} must be a number")
            set_(self, "crop_margin", float(self.crop_margin))
            if self.modality not in ("face", "audio_visual") or not 0.0 <= self.crop_margin <= 2.0:
                raise ContractError("model.input.crop_margin applies to face crops only, in [0, 2]")

    def _check_image_crops(self) -> None:
        set_ = object.__setattr__
        if self.modality != "image":
            if (self.crop, self.crops, self.resize) != (None, None, None):
                raise ContractError(f"model.input.crop/crops/resize apply to whole-image models, not {self.modality}")
            return
        crop = self.crop or "center"
        if crop not in IMAGE_CROPS:
            raise ContractError(f"model.input.crop='{crop}' is not one of {', '.join(IMAGE_CROPS)}")
        set_(self, "crop", crop)
        set_(self, "crops", _bounded("crops", self.crops or (5 if crop == "grid" else 1), 1, 64))
        if crop != "grid" and self.crops != 1:
            raise ContractError(f"model.input.crops applies to crop=grid (crop={crop} is one input per image)")
        if self.resize is not None:
            set_(self, "resize", _bounded("resize", self.resize, int(self.size or 8), MAX_SIDE))

    @property
    def preprocessing(self) -> str:
        """How inputs are made: ``face_crop``, ``whole_image``, ``waveform_window`` or ``face_clip_with_sound``."""
        return PREPROCESSING[self.modality]

    @property
    def input_keys(self) -> tuple[str, ...]:
        """The batch keys the model reads: ``image`` (B, 3, H, W), ``clip`` (B, T, 3, H, W), ``audio`` (B, N);
        audio-visual models read ``clip`` and ``audio``."""
        if self.modality == "audio_visual":
            return ("clip", "audio")
        if self.modality == "audio":
            return ("audio",)
        return ("image",) if self.clip_len is None else ("clip",)

    @property
    def input_key(self) -> str:
        """The one batch key of a single-input model (see :attr:`input_keys`).

        Raises:
            ContractError: the model takes several inputs (audio-visual).
        """
        if len(self.input_keys) != 1:
            raise ContractError(f"{self.modality} models take several inputs: {', '.join(self.input_keys)}")
        return self.input_keys[0]

    @property
    def layout(self) -> str:
        """``NCHW`` for images, ``NTCHW`` for clips, ``NL`` (samples) for waveforms; ``+`` joins several inputs."""
        names = {"image": "NCHW", "clip": "NTCHW", "audio": "NL"}
        return "+".join(names[key] for key in self.input_keys)

    def shape(self, batch: int | str) -> tuple[int | str, ...]:
        """Input shape for ``batch`` (a number, or a name such as ``"batch"`` for the dynamic axis) of a
        single-input model."""
        if self.input_key == "audio":
            return (batch, int(self.num_samples or 0))
        side = int(self.size or 0)
        return (batch, 3, side, side) if self.clip_len is None else (batch, self.clip_len, 3, side, side)

    def shapes(self, batch: int | str) -> dict[str, tuple[int | str, ...]]:
        """The shape of every input the model takes, by batch key (one entry for single-input models)."""
        side, samples = int(self.size or 0), int(self.num_samples or 0)
        known: dict[str, tuple[int | str, ...]] = {
            "image": (batch, 3, side, side),
            "clip": (batch, int(self.clip_len or 0), 3, side, side),
            "audio": (batch, samples),
        }
        return {key: known[key] for key in self.input_keys}

    def describe(self) -> str:
        """One sentence on how an input is made (written into export metadata)."""
        if self.modality == "audio":
            return (
                f"mono waveform resampled to {self.sample_rate} Hz, float32 in [-1, 1], cropped or padded to "
                f"{self.num_samples} samples (the front-end runs inside the graph)"
            )
        if self.modality == "image":
            scale = f"shorter side resized to {self.resize}" if self.resize else "native resolution (no resizing)"
            if self.crop == "whole":
                return (
                    f"whole RGB image at {scale}, padded by reflection to at least {self.size} px, centre-cropped to "
                    "a multiple of 32 px on each side (at most 2048), one input of its own size, scaled to [0, 1], "
                    "then (x - mean) / std"
                )
            crops = "a centre crop" if self.crop == "center" else f"{self.crops} crops on a grid, scores averaged"
            return (
                f"whole RGB image at {scale}, padded by reflection to at least {self.size} px, {crops} of "
                f"{self.size}x{self.size}, scaled to [0, 1], then (x - mean) / std"
            )
        what = "RGB face crop"
        if self.crop_margin is not None:
            what += f" (margin {self.crop_margin:g} of the face box's longer side on each side)"
        clips = f"; clips of {self.clip_len} sampled frames every {self.clip_stride}" if self.clip_len else ""
        sound = ""
        if self.modality == "audio_visual":
            sound = f"; with the {self.num_samples} samples of sound at {self.sample_rate} Hz centred on each clip"
        return f"{what} resized to {self.size}x{self.size}, scaled to [0, 1], then (x - mean) / std{clips}{sound}"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types (lists, not tuples): what checkpoints and export metadata store."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> InputContract:
        """The contract of a mapping (a config node, a checkpoint's hyperparameters, export metadata).

        Raises:
            ContractError: unknown keys, or values out of bounds.
        """
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ContractError(f"model.input has unknown keys {unknown}; known: {', '.join(sorted(known))}")
        items: dict[str, Any] = {k: (tuple(v) if k in ("mean", "std") and v else v) for k, v in values.items()}
        return cls(**items)

    def require(self, modality: str, what: str) -> None:
        """Refuses, with one line, data or input of another modality (``what`` names it, e.g. ``data=ffpp``).

        Raises:
            ContractError: ``modality`` differs from the model's.
        """
        if modality != self.modality:
            raise ContractError(
                f"{what} is {modality} data but the model takes {self.modality} input: "
                f"use a {modality} model with it (see conf/model/)"
            )
