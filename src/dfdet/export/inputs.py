"""Model inputs for tracing and verification, built from the model's input contract.

Four layouts (:class:`~dfdet.contract.InputContract`): frame models take images (B, 3, H, W); clip models (a
temporal head) take clips (B, T, 3, H, W); audio models take waveforms (B, N); audio-visual models take both a clip
and a waveform (a dict by input key; the exported graph has one named input per key). Every input the export traces or
verifies with comes from :func:`make_inputs`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import cast

import numpy as np
import torch

from dfdet.contract import InputContract
from dfdet.data.synthetic.render import FrameParams, render_background, render_face, sample_identity
from dfdet.export.errors import ExportError
from dfdet.models.detector import DeepfakeDetector
from dfdet.transforms import build_eval_transform

INPUT_KINDS = ("normal", "faces")  # random normal tensors; rendered synthetic faces through the eval transform
AUDIO_INPUT_KINDS = ("normal", "speech")  # random normal waveforms; synthetic voiced speech (harmonics and noise)


def input_kinds(contract: InputContract) -> tuple[str, ...]:
    """The input kinds :func:`make_inputs` builds for a model: ``normal`` and ``faces`` or ``speech``."""
    return AUDIO_INPUT_KINDS if contract.modality == "audio" else INPUT_KINDS


def model_contract(model: DeepfakeDetector) -> InputContract:
    """The detector's input contract, refusing a clip model without a clip length."""
    contract = model.contract
    if getattr(model, "head", None) is not None and contract.clip_len is None:
        raise ExportError("A clip model (temporal head) needs model.input.clip_len in its contract")
    return contract


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


ModelInput = torch.Tensor | dict[str, torch.Tensor]  # one tensor, or one per input key (audio-visual models)


def make_inputs(spec: InputContract, batch: int, kind: str, rng: np.random.Generator) -> ModelInput:
    """Builds a batch of model inputs.

    Args:
        spec: the model's input contract.
        batch: batch size B.
        kind: ``normal`` (standard normal values); for image and clip models ``faces`` (synthetic faces rendered at
            the model's input size and passed through the evaluation transform, so values have the range and
            structure of real inputs); for audio models ``speech`` (synthetic voiced speech at the sample rate).
        rng: the source of randomness.

    Returns:
        float32 tensor of shape ``spec.shape(batch)``: (B, 3, H, W), (B, T, 3, H, W) for clips, (B, N) for audio;
        for audio-visual models a dict ``{"clip": (B, T, 3, H, W), "audio": (B, N)}`` (``faces`` pairs rendered
        faces with synthetic speech).
    """
    kinds = input_kinds(spec)
    if kind not in kinds:
        raise ExportError(f"Unknown input kind '{kind}' for {spec.modality} models; choose one of {', '.join(kinds)}")
    if spec.modality == "audio_visual":
        pictures = dataclasses.replace(spec, modality="face", num_samples=None, sample_rate=None, crop_margin=None)
        sound = InputContract(modality="audio", num_samples=spec.num_samples, sample_rate=spec.sample_rate)
        clip = make_inputs(pictures, batch, kind, rng)
        audio = make_inputs(sound, batch, "normal" if kind == "normal" else "speech", rng)
        return {"clip": cast(torch.Tensor, clip), "audio": cast(torch.Tensor, audio)}
    if spec.modality == "audio":
        samples, rate = int(spec.num_samples or 0), int(spec.sample_rate or 0)
        if kind == "normal":
            return torch.from_numpy(rng.standard_normal((batch, samples), dtype=np.float32))
        return torch.from_numpy(np.stack([_speech(samples, rate, rng) for _ in range(batch)]))
    side = int(spec.size or 0)
    count = batch * (spec.clip_len or 1)
    if kind == "normal":
        images = torch.from_numpy(rng.standard_normal((count, 3, side, side), dtype=np.float32))
    else:
        transform = build_eval_transform(side, spec.mean or (), spec.std or ())
        images = torch.stack([transform(_face_crop(side, rng)) for _ in range(count)]).float()
    return images if spec.clip_len is None else images.reshape(batch, spec.clip_len, *images.shape[1:])


def verification_inputs(
    spec: InputContract, batch_sizes: Sequence[int], rng: np.random.Generator
) -> dict[str, ModelInput]:
    """One batch of every kind at every batch size, named ``"<kind> b<B>"`` (e.g. ``"faces b3"``); whole-image models
    (``crop=whole``) add one image of another size (``"normal b1 <H>x<W>"``), since their inputs have any size."""
    inputs = {f"{kind} b{b}": make_inputs(spec, b, kind, rng) for kind in input_kinds(spec) for b in batch_sizes}
    if spec.crop == "whole":
        side = int(spec.size or 0)
        shape = (1, 3, side + 32, side + 64)
        inputs[f"normal b1 {shape[2]}x{shape[3]}"] = torch.from_numpy(rng.standard_normal(shape, dtype=np.float32))
    return inputs
