"""Model inputs for tracing and verification: the one place that knows a detector's input layout.

Three layouts: frame models take images (B, 3, H, W); clip models (a temporal head) take clips (B, T, 3, H, W) with
``frames`` = T; audio models take waveforms (B, N) with N = ``image_size`` samples. Every input the export traces or
verifies with comes from :func:`make_inputs`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from dfdet.data.synthetic.render import FrameParams, render_background, render_face, sample_identity
from dfdet.export.errors import ExportError
from dfdet.models.detector import DeepfakeDetector
from dfdet.models.loading import audio_sample_rate
from dfdet.transforms import build_eval_transform

INPUT_KINDS = ("normal", "faces")  # random normal tensors; rendered synthetic faces through the eval transform
AUDIO_INPUT_KINDS = ("normal", "speech")  # random normal waveforms; synthetic voiced speech (harmonics and noise)


@dataclass(frozen=True)
class InputSpec:
    """Layout of a detector's input.

    Attributes:
        image_size: side of the square RGB face crop in pixels.
        mean: per-channel mean of the normalisation of RGB values scaled to [0, 1].
        std: per-channel standard deviation of that normalisation.
        frames: frames per clip for models taking (B, T, 3, H, W); None for image models taking (B, 3, H, W).
    """

    image_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    frames: int | None = None
    clip_stride: int | None = None
    sample_rate: int | None = None

    @property
    def modality(self) -> str:
        """``audio`` for waveform models, else ``image``."""
        return "image" if self.sample_rate is None else "audio"

    @property
    def kinds(self) -> tuple[str, ...]:
        """The input kinds :func:`make_inputs` builds for this layout."""
        return INPUT_KINDS if self.sample_rate is None else AUDIO_INPUT_KINDS

    @classmethod
    def from_detector(cls, model: DeepfakeDetector, config: Mapping[str, Any] | None = None) -> InputSpec:
        """The spec recorded in a detector's hyperparameters and its training config.

        Args:
            model: the detector; a temporal ``head`` makes it a clip model.
            config: the resolved training config (``model.run_config`` when None): ``data.clip_len`` and
                ``data.clip_stride`` for clip models; ``data.sample_rate`` (or an audio data module) for audio models.
        """
        hp = model.hparams
        size, mean, std = int(hp["image_size"]), tuple(float(m) for m in hp["mean"]), tuple(float(s) for s in hp["std"])
        if config is None:
            config = getattr(model, "run_config", None) or {}
        data = config.get("data") or {}
        if getattr(model, "head", None) is not None:
            if not data.get("clip_len"):
                raise ExportError("A clip model (temporal head) needs data.clip_len in its training config")
            frames = int(data["clip_len"])
            return cls(size, mean, std, frames=frames, clip_stride=int(data.get("clip_stride") or frames))
        return cls(size, mean, std, sample_rate=audio_sample_rate(config))

    def shape(self, batch: int | str) -> tuple[int | str, ...]:
        """Input shape for ``batch`` (a number, or a name such as ``"batch"`` for the dynamic axis)."""
        side = self.image_size
        if self.sample_rate is not None:
            return (batch, side)
        return (batch, 3, side, side) if self.frames is None else (batch, self.frames, 3, side, side)

    @property
    def layout(self) -> str:
        """``NCHW`` for images, ``NTCHW`` for clips, ``NL`` (samples) for waveforms."""
        if self.sample_rate is not None:
            return "NL"
        return "NCHW" if self.frames is None else "NTCHW"


def _speech(samples: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """A speech-like waveform: a voiced source (harmonics of a gliding pitch, syllable-rate envelope) plus noise."""
    t = np.arange(samples) / sample_rate
    f0 = rng.uniform(90, 220) * (1 + 0.1 * np.sin(2 * np.pi * rng.uniform(0.5, 2) * t))
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    voiced = sum(np.sin(k * phase) / k for k in range(1, 9))
    envelope = 0.55 + 0.45 * np.sin(2 * np.pi * rng.uniform(3, 5) * t + rng.uniform(0, 2 * np.pi))
    x = voiced * envelope + 0.05 * rng.standard_normal(samples)
    return (0.3 * x / (np.abs(x).max() + 1e-8)).astype(np.float32)


def _face_crop(size: int, rng: np.random.Generator) -> np.ndarray:
    """One rendered synthetic face crop of a random identity, pose and light: uint8 (size, size, 3) RGB."""
    light = rng.normal(0, 1, 3) * np.array([1, 1, 0.5]) + np.array([0, -0.3, 1.2])
    frame = FrameParams(
        cx=float(rng.uniform(0.45, 0.55)),
        cy=float(rng.uniform(0.46, 0.54)),
        scale=float(rng.uniform(0.95, 1.2)),
        roll=float(rng.uniform(-0.2, 0.2)),
        yaw=float(rng.uniform(-0.35, 0.35)),
        pitch=float(rng.uniform(-0.15, 0.15)),
        light=(light / np.linalg.norm(light)).astype(np.float32),
        ambient=float(rng.uniform(0.35, 0.65)),
        gain=(rng.uniform(0.75, 1.15) * rng.uniform(0.9, 1.1, 3)).astype(np.float32),
        mouth_open=float(rng.uniform(0, 1)),
        blink=0.0,
    )
    image = render_face(sample_identity(rng), frame, render_background(size, rng))
    return (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)


def make_inputs(spec: InputSpec, batch: int, kind: str, rng: np.random.Generator) -> torch.Tensor:
    """Builds a batch of model inputs.

    Args:
        spec: the model's input layout.
        batch: batch size B.
        kind: ``normal`` (standard normal values); for image and clip models ``faces`` (synthetic faces rendered at
            the model's input size and passed through the evaluation transform, so values have the range and
            structure of real inputs); for audio models ``speech`` (synthetic voiced speech at the sample rate).
        rng: the source of randomness.

    Returns:
        float32 tensor of shape ``spec.shape(batch)``: (B, 3, H, W), (B, T, 3, H, W) for clips, (B, N) for audio.
    """
    if kind not in spec.kinds:
        raise ExportError(
            f"Unknown input kind '{kind}' for {spec.modality} models; choose one of {', '.join(spec.kinds)}"
        )
    side = spec.image_size
    if spec.sample_rate is not None:
        if kind == "normal":
            return torch.from_numpy(rng.standard_normal((batch, side), dtype=np.float32))
        return torch.from_numpy(np.stack([_speech(side, spec.sample_rate, rng) for _ in range(batch)]))
    count = batch * (spec.frames or 1)
    if kind == "normal":
        images = torch.from_numpy(rng.standard_normal((count, 3, side, side), dtype=np.float32))
    else:
        transform = build_eval_transform(side, spec.mean, spec.std)
        images = torch.stack([transform(_face_crop(side, rng)) for _ in range(count)]).float()
    return images if spec.frames is None else images.reshape(batch, spec.frames, *images.shape[1:])


def verification_inputs(
    spec: InputSpec, batch_sizes: Sequence[int], rng: np.random.Generator
) -> dict[str, torch.Tensor]:
    """One batch of every kind at every batch size, named ``"<kind> b<B>"`` (e.g. ``"faces b3"``)."""
    return {f"{kind} b{b}": make_inputs(spec, b, kind, rng) for kind in spec.kinds for b in batch_sizes}
