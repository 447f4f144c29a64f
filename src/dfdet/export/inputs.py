"""Model inputs for tracing and verification: the one place that knows a detector's input layout.

A clip model (a temporal head over (B, T, 3, H, W)) needs only a :class:`InputSpec` with ``frames`` set; every input
the export traces or verifies with comes from :func:`make_inputs`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from dfdet.data.synthetic.render import FrameParams, render_background, render_face, sample_identity
from dfdet.export.errors import ExportError
from dfdet.models.detector import DeepfakeDetector
from dfdet.transforms import build_eval_transform

INPUT_KINDS = ("normal", "faces")  # random normal tensors; rendered synthetic faces through the eval transform


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

    @classmethod
    def from_detector(cls, model: DeepfakeDetector) -> InputSpec:
        """The spec recorded in a detector's hyperparameters."""
        hp = model.hparams
        return cls(int(hp["image_size"]), tuple(float(m) for m in hp["mean"]), tuple(float(s) for s in hp["std"]))

    def shape(self, batch: int | str) -> tuple[int | str, ...]:
        """Input shape for ``batch`` (a number, or a name such as ``"batch"`` for the dynamic axis)."""
        side = self.image_size
        return (batch, 3, side, side) if self.frames is None else (batch, self.frames, 3, side, side)

    @property
    def layout(self) -> str:
        """``NCHW`` for images, ``NTCHW`` for clips."""
        return "NCHW" if self.frames is None else "NTCHW"


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
        kind: ``normal`` (standard normal values) or ``faces`` (synthetic faces rendered at the model's input size
            and passed through the evaluation transform, so values have the range and structure of real inputs).
        rng: the source of randomness.

    Returns:
        float32 tensor of shape ``spec.shape(batch)``: (B, 3, H, W), or (B, T, 3, H, W) for clips.
    """
    count = batch * (spec.frames or 1)
    side = spec.image_size
    if kind == "normal":
        images = torch.from_numpy(rng.standard_normal((count, 3, side, side), dtype=np.float32))
    elif kind == "faces":
        transform = build_eval_transform(side, spec.mean, spec.std)
        images = torch.stack([transform(_face_crop(side, rng)) for _ in range(count)]).float()
    else:
        raise ExportError(f"Unknown input kind '{kind}'; choose one of {', '.join(INPUT_KINDS)}")
    return images if spec.frames is None else images.reshape(batch, spec.frames, *images.shape[1:])


def verification_inputs(
    spec: InputSpec, batch_sizes: Sequence[int], rng: np.random.Generator
) -> dict[str, torch.Tensor]:
    """One batch of every kind at every batch size, named ``"<kind> b<B>"`` (e.g. ``"faces b3"``)."""
    return {f"{kind} b{b}": make_inputs(spec, b, kind, rng) for kind in INPUT_KINDS for b in batch_sizes}
