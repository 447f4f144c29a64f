"""The scoring models behind one interface: an exported ONNX file (onnxruntime alone) or a train.py checkpoint.

The ONNX path imports neither Lightning nor timm: the metadata is read from the session's ``custom_metadata_map``
(the keys :mod:`dfdet.export.metadata` writes), and the training stack is imported only to load a checkpoint.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dfdet.contract import InputContract
from dfdet.errors import DfdetError
from dfdet.explain.occlusion import occlusion_map
from dfdet.legacy import contract_from_metadata
from dfdet.predict.errors import PredictError
from dfdet.provenance import trained_on
from dfdet.utils.hashing import file_sha256, from_string_props

REQUIRED_KEYS = ("input_size", "threshold")


@dataclass(frozen=True)
class ModelInfo:
    """What a model needs as input and how its scores are read.

    Attributes:
        name: the model's name (metadata ``name``, else the file's stem).
        version: metadata ``version``, else the first 12 hex digits of the source checkpoint's sha256 (the same for
            a checkpoint and the ONNX file exported from it).
        format: ``onnx`` or ``checkpoint``.
        modality: ``face`` (face crops) or ``audio`` (waveforms).
        backbone: timm model name.
        input_size: side of the square face crop in pixels; for audio models the window length in samples.
        mean: per-channel normalisation mean of RGB in [0, 1].
        std: per-channel normalisation standard deviation.
        threshold: decision threshold on the fake probability (the calibrated one, ``sigmoid(logit / temperature)``).
        threshold_source: ``validation``, ``config`` or ``override``.
        aggregation: how frame (or clip, or window) scores become a file's score: ``mean``, ``max``, ``topk_mean``.
        top_k: frames used by ``topk_mean``.
        clip_len: frames per clip for clip models (inputs (B, T, 3, S, S)); None for frame models.
        clip_stride: sampled frames between clip starts.
        sample_rate: audio models: the waveform rate in Hz.
        explanation_method: ``grad-cam``, ``occlusion`` or None (no explanation available).
        input: the model's whole input contract (:class:`~dfdet.contract.InputContract` as a dict); the fields
            above repeat the parts the predictor reads.
        temperature: the probability is ``sigmoid(logit / temperature)`` (fitted on validation after training; 1.0
            for models trained before calibration).
        uncertain_band: ``(low, high)``: the verdict is ``uncertain`` for probabilities in ``[low, high)``; None:
            verdicts are ``fake`` / ``real`` at the threshold.
        trained_on: ``synthetic`` (a demonstration model: dfdet's built-in synthetic data), ``data`` or
            ``unknown`` (older ONNX files).
    """

    name: str
    version: str
    format: str
    modality: str
    backbone: str
    input_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    threshold: float
    threshold_source: str
    aggregation: str = "mean"
    top_k: int = 5
    clip_len: int | None = None
    clip_stride: int | None = None
    sample_rate: int | None = None
    explanation_method: str | None = None
    input: dict[str, Any] | None = None
    temperature: float = 1.0
    uncertain_band: tuple[float, float] | None = None
    trained_on: str = "unknown"

    def __post_init__(self) -> None:
        # These come from files other people made (export metadata, checkpoint buffers): refuse nonsense in one line.
        band = self.uncertain_band
        problems = []
        if not 0.0 <= self.threshold <= 1.0:
            problems.append(f"threshold={self.threshold}")
        if not 0.0 < self.temperature < math.inf:
            problems.append(f"temperature={self.temperature}")
        if band is not None and not 0.0 <= band[0] <= band[1] <= 1.0:
            problems.append(f"uncertain_band={list(band)}")
        if self.top_k < 1:
            problems.append(f"top_k={self.top_k}")
        if problems:
            raise PredictError(f"model {self.name}: invalid {', '.join(problems)} in its metadata or checkpoint")

    @staticmethod
    def contract_fields(contract: InputContract) -> dict[str, Any]:
        """The fields of a :class:`ModelInfo` that come from the model's input contract."""
        audio = contract.modality == "audio"
        return {
            "modality": contract.modality,
            "input_size": int((contract.num_samples if audio else contract.size) or 0),
            "mean": tuple(contract.mean or (0.0,)),
            "std": tuple(contract.std or (1.0,)),
            "clip_len": contract.clip_len,
            "clip_stride": contract.clip_stride,
            "sample_rate": contract.sample_rate,
            "input": contract.to_dict(),
        }

    @property
    def contract(self) -> InputContract:
        """The model's input contract."""
        return InputContract.from_dict(self.input or {})

    def public(self) -> dict[str, Any]:
        """The JSON-serialisable description shown in every result."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


class OnnxModel:
    """An exported detector run by onnxruntime (CPUExecutionProvider).

    Args:
        path: the ``.onnx`` file written by ``export.py`` (with dfdet metadata).
        threads: onnxruntime intra-op threads; None: its default (one per physical core).
    """

    def __init__(self, path: str | os.PathLike, threads: int | None = None) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        options = ort.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = int(threads)
        try:
            self.session = ort.InferenceSession(os.fspath(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
            raise PredictError(f"{path} is not a loadable ONNX model ({type(exc).__name__}: {exc})") from exc
        self.input_name = self.session.get_inputs()[0].name
        meta = from_string_props(dict(self.session.get_modelmeta().custom_metadata_map))
        missing = [k for k in REQUIRED_KEYS if k not in meta]
        if missing:
            raise PredictError(
                f"{path} has no dfdet metadata ({', '.join(missing)} missing): export it with "
                "`python export.py ckpt_path=... format=onnx`"
            )
        try:
            contract = contract_from_metadata(meta)
        except (DfdetError, KeyError, TypeError, ValueError) as exc:
            raise PredictError(f"{path} has an unreadable input contract in its metadata ({exc})") from exc
        version = meta.get("version") or str(meta.get("checkpoint_sha256") or file_sha256(self.path))[:12]
        try:
            self.info = self._info(meta, contract, str(version))
        except (TypeError, ValueError, IndexError) as exc:
            raise PredictError(f"{path} has unreadable dfdet metadata ({type(exc).__name__}: {exc})") from exc

    def _info(self, meta: dict[str, Any], contract: InputContract, version: str) -> ModelInfo:
        """The :class:`ModelInfo` of the metadata (raises TypeError / ValueError on values of the wrong kind)."""
        audio = contract.modality in ("audio", "audio_visual")  # no heatmaps for waveforms or two-input models
        band = meta.get("uncertain_band")
        return ModelInfo(
            name=str(meta.get("name") or self.path.stem),
            version=str(version),
            format="onnx",
            backbone=str(meta.get("backbone", "unknown")),
            threshold=float(meta["threshold"]),
            threshold_source=str(meta.get("threshold_source", "metadata")),
            aggregation=str(meta.get("video_aggregation", "mean")),
            top_k=int(meta.get("top_k", 5)),
            **ModelInfo.contract_fields(contract),
            explanation_method=None if audio else "occlusion",
            temperature=float(meta.get("temperature", 1.0)),
            uncertain_band=(float(band[0]), float(band[1])) if isinstance(band, list) and len(band) == 2 else None,
            trained_on=str(meta.get("trained_on", "unknown")),
        )

    def logits(self, x: np.ndarray | dict[str, np.ndarray]) -> np.ndarray:
        """Model inputs (B, ...) float32 (a dict by input name for audio-visual models) to fake logits (B,)."""
        feed = x if isinstance(x, dict) else {self.input_name: x}
        out = self.session.run(None, {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in feed.items()})[0]
        return np.asarray(out, np.float32).reshape(-1)

    def explain(self, x: np.ndarray, batch_size: int = 64) -> tuple[np.ndarray, str]:
        """Occlusion heatmaps (N, H, W) in [0, 1] of inputs (N, ...) (no gradients through onnxruntime)."""
        return occlusion_map(self.logits, x, batch_size=batch_size), "occlusion"


class CheckpointModel:
    """A detector rebuilt from a train.py checkpoint (weights-only loading; explained with Grad-CAM).

    Args:
        path: the ``.ckpt`` file.
        threads: torch intra-op threads; None leaves torch's setting.
    """

    def __init__(self, path: str | os.PathLike, threads: int | None = None) -> None:
        import torch
        from omegaconf import OmegaConf

        from dfdet.models import load_detector

        if threads is not None:
            torch.set_num_threads(int(threads))
        self.path = Path(path)
        self.model, cfg = load_detector(path)
        contract = self.model.contract
        audio = contract.modality in ("audio", "audio_visual")  # no heatmaps for waveforms or two-input models
        metric = self.model.stage_metrics("test")
        self.info = ModelInfo(
            name=self.path.stem,
            version=file_sha256(self.path)[:12],
            format="checkpoint",
            backbone=str(OmegaConf.select(cfg, "model.net.name", default=None) or type(self.model.net).__name__),
            threshold=float(self.model.get_buffer("threshold")),
            threshold_source="config" if self.model.fixed_threshold is not None else "validation",
            aggregation=str(metric.aggregation),
            top_k=int(metric.top_k),
            **ModelInfo.contract_fields(contract),
            explanation_method=None if audio else "grad-cam",
            temperature=float(self.model.get_buffer("temperature")),
            uncertain_band=self.model.band(),
            trained_on=trained_on(OmegaConf.to_container(cfg, resolve=False)),  # type: ignore[arg-type]
        )

    def logits(self, x: np.ndarray | dict[str, np.ndarray]) -> np.ndarray:
        """Model inputs (B, ...) float32 (a dict by input key for audio-visual models) to fake logits (B,)."""
        import torch

        def tensor(v: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32))

        inputs = {k: tensor(v) for k, v in x.items()} if isinstance(x, dict) else tensor(x)
        with torch.inference_mode():
            return self.model(inputs).float().numpy().reshape(-1)

    def explain(self, x: np.ndarray, batch_size: int = 64) -> tuple[np.ndarray, str]:
        """Grad-CAM heatmaps (N, H, W) in [0, 1] (clips: each clip's frames, (N, T, H, W)); occlusion when the
        backbone has no spatial feature map."""
        import torch

        from dfdet.explain.gradcam import GradCamUnavailable, grad_cam

        try:
            cams = [
                grad_cam(self.model.net, torch.from_numpy(x[s : s + batch_size]), self.model.head).numpy()
                for s in range(0, len(x), batch_size)
            ]
            return np.concatenate(cams), "grad-cam"
        except GradCamUnavailable:
            return occlusion_map(self.logits, x, batch_size=batch_size), "occlusion"


Model = OnnxModel | CheckpointModel


def load_model(path: str | os.PathLike, threads: int | None = None) -> Model:
    """Loads an exported ONNX model or a train.py checkpoint (chosen by content: checkpoints are zip archives).

    Args:
        path: ``.onnx`` or ``.ckpt`` file.
        threads: inference threads (onnxruntime intra-op, or torch); None: the runtime's default.

    Raises:
        PredictError: missing file, a TorchScript file, or not a loadable model.
        CheckpointError: a corrupt checkpoint or one not written by dfdet's train.py.
    """
    path = Path(path)
    if not path.is_file():
        raise PredictError(
            f"Model file not found: {path} (pass model=<exported>.onnx or model=<run>/checkpoints/best.ckpt)"
        )
    with open(path, "rb") as f:
        is_zip = f.read(4) == b"PK\x03\x04"
    if path.suffix == ".torchscript":
        raise PredictError(f"{path}: TorchScript files are not supported here; pass the .onnx file or the checkpoint")
    return CheckpointModel(path, threads) if is_zip or path.suffix == ".ckpt" else OnnxModel(path, threads)
