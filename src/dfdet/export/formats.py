"""Writing and loading ONNX and TorchScript artifacts (torch.onnx, onnxruntime and torch.jit stay behind this module).

ONNX uses torch's TorchScript-based exporter (``torch.onnx.export(..., dynamo=False)``) by default: it works with the
installed packages, whereas the dynamo exporter (torch's default since 2.9) needs ``onnxscript``, which is not a
dependency of dfdet; ``dynamo=True`` selects it where onnxscript is installed (see docs/export.md).
"""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import onnx
import onnxruntime as ort
import torch
from torch import nn

from dfdet.export.errors import ExportError
from dfdet.export.metadata import INPUT_NAME, OUTPUT_NAME
from dfdet.models.tuning import has_adapters, merge_for_export
from dfdet.utils.hashing import from_string_props, to_string_props

ModelInput = torch.Tensor | dict[str, torch.Tensor]  # one tensor, or one per input key (audio-visual models)
Runner = Callable[[Any], torch.Tensor]  # model input (a ModelInput) -> (B,) logits
EXTRA_FILE = "dfdet.json"  # TorchScript extra file holding the metadata
SUFFIXES = {"onnx": ".onnx", "torchscript": ".torchscript"}
TORCHSCRIPT_EXPORTER = "torch.jit.trace"


class LogitNet(nn.Module):
    """What is exported: ``DeepfakeDetector.forward`` without its training-only options (compile, channels_last).

    Args:
        net: maps (B, 3, H, W) images (or (B, N) waveforms for audio models) to (B, 1) or (B,) logits; for clip
            models a timm model whose pooled features (``forward_head(..., pre_logits=True)``) feed ``head``.
        head: a clip model's temporal head mapping frame features (B, T, D) to (B,) or (B, 1) logits; None for
            frame and audio models.
        keys: the input keys of a network taking several inputs as a dict (audio-visual: ``clip``, ``audio``);
            the exported graph then has one positional input per key, in this order. None: one tensor.
    """

    def __init__(self, net: nn.Module, head: nn.Module | None = None, keys: tuple[str, ...] | None = None) -> None:
        super().__init__()
        self.net = net
        self.head = head
        self.keys = keys

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        """Args: (B, 3, H, W) images, (B, T, 3, H, W) clips or (B, N) waveforms; or one tensor per key of
        ``keys``. Returns fake logits (B,)."""
        if self.keys is not None:
            return self.net(dict(zip(self.keys, inputs, strict=True))).reshape(inputs[0].shape[0])
        x = inputs[0]
        batch = x.shape[0]
        if self.head is None:
            return self.net(x).reshape(batch)
        frames = x.flatten(0, 1)  # (B * T, 3, H, W)
        net: Any = self.net  # a timm model
        feats = net.forward_head(net.forward_features(frames), pre_logits=True)  # (B * T, D)
        return self.head(feats.reshape(batch, x.shape[1], feats.shape[-1])).reshape(batch)

    @classmethod
    def from_detector(cls, model: nn.Module) -> LogitNet:
        """The exported graph of a :class:`~dfdet.models.DeepfakeDetector` (its ``net`` and optional ``head``).

        A network with tuning adapters (LoRA, SVD residual layers) is exported as a merged copy: plain layers only,
        while ``model`` keeps its adapters (verification then compares the merged graph with the adapted model).
        """
        net = model.get_submodule("net")
        if has_adapters(net):
            net = merge_for_export(copy.deepcopy(net))
        keys = getattr(getattr(model, "contract", None), "input_keys", ())
        head = model.get_submodule("head") if getattr(model, "head", None) is not None else None
        return cls(net, head, tuple(keys) if len(keys) > 1 else None)


def input_names(example: ModelInput) -> list[str]:
    """The graph's input names: ``input`` for one tensor, the keys of a dict (audio-visual: ``clip``, ``audio``)."""
    return list(example) if isinstance(example, dict) else [INPUT_NAME]


def as_args(example: ModelInput) -> tuple[torch.Tensor, ...]:
    """The positional arguments of the exported graph (a dict's values in key order)."""
    return tuple(example.values()) if isinstance(example, dict) else (example,)


@contextmanager
def _quiet_deprecations() -> Iterator[None]:
    """Silences torch's notices that the TorchScript-based exporters are deprecated (known; see docs/export.md)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export")
        warnings.filterwarnings("ignore", message="The feature will be removed")
        warnings.filterwarnings("ignore", message=r"`torch\.jit\.\w+` is deprecated")
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        # RNN heads traced at batch 2: harmless here (no initial state input); verification runs batches 1 and 3.
        warnings.filterwarnings("ignore", message="Exporting a model to ONNX with a batch_size other than 1")
        yield


def export_onnx(
    module: nn.Module,
    example: ModelInput,
    path: str | os.PathLike,
    metadata: Mapping[str, Any],
    opset: int,
    dynamo: bool = False,
    spatial: bool = False,
) -> None:
    """Writes ``module`` as ONNX with a dynamic batch axis and ``metadata`` in ``metadata_props``.

    Args:
        module: eval-mode module mapping the input to (B,) logits.
        example: an input batch to trace with (a dict of several: one graph input per key); every axis but the
            first (batch) is fixed to its size.
        path: the file to write.
        metadata: stored as ``metadata_props`` (non-string values as JSON).
        opset: ONNX opset version.
        dynamo: use torch's torch.export-based exporter (needs the ``onnxscript`` package) instead of the
            TorchScript-based one.
        spatial: the input's last two axes (height, width) are dynamic too: whole-image models (``crop=whole``).
    """
    names = input_names(example), [OUTPUT_NAME]
    if dynamo:
        if importlib.util.find_spec("onnxscript") is None:
            raise ExportError(
                "dynamo=true needs the onnxscript package, which dfdet does not depend on: install it "
                "(uv add onnxscript) or export with dynamo=false"
            )
        batch = torch.export.Dim("batch")
        shapes = {0: batch, 2: torch.export.Dim("height"), 3: torch.export.Dim("width")} if spatial else {0: batch}
        with _quiet_deprecations(), torch.no_grad():
            program = torch.onnx.export(
                module,
                as_args(example),
                dynamo=True,
                opset_version=opset,
                input_names=names[0],
                output_names=names[1],
                dynamic_shapes=tuple(shapes for _ in names[0]),
            )
        assert program is not None  # the dynamo exporter returns the program
        proto = program.model_proto
    else:
        inputs = {0: "batch", 2: "height", 3: "width"} if spatial else {0: "batch"}
        axes = {**{name: inputs for name in names[0]}, OUTPUT_NAME: {0: "batch"}}
        with _quiet_deprecations(), torch.no_grad():
            torch.onnx.export(
                module,
                as_args(example),
                os.fspath(path),
                dynamo=False,
                opset_version=opset,
                input_names=names[0],
                output_names=names[1],
                dynamic_axes=axes,
            )
        proto = onnx.load(os.fspath(path))
    onnx.helper.set_model_props(proto, to_string_props(metadata))
    onnx.checker.check_model(proto)
    onnx.save(proto, os.fspath(path))


def load_onnx(path: str | os.PathLike, threads: int | None = None) -> Runner:
    """An onnxruntime session (CPUExecutionProvider) on ``path``, as a tensor-to-tensor function.

    Args:
        path: the ONNX file.
        threads: intra-op threads; None: onnxruntime's default (one per physical core).
    """
    options = ort.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
    session = ort.InferenceSession(os.fspath(path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    def run(x: ModelInput) -> torch.Tensor:
        feed = x if isinstance(x, dict) else {name: x}
        return torch.from_numpy(session.run(None, {k: v.detach().cpu().numpy() for k, v in feed.items()})[0])

    return run


def read_onnx_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The metadata stored in an ONNX file (JSON values decoded)."""
    proto = onnx.load(os.fspath(path), load_external_data=False)
    return from_string_props({p.key: p.value for p in proto.metadata_props})


def export_torchscript(
    module: nn.Module, example: ModelInput, path: str | os.PathLike, metadata: Mapping[str, Any]
) -> None:
    """Traces ``module`` on ``example`` and saves it with ``metadata`` as the extra file ``dfdet.json``.

    The batch size is not baked in: the reshape reads it from the input at run time.
    """
    with _quiet_deprecations(), torch.no_grad():
        traced = torch.jit.trace(module, as_args(example), check_trace=False)
        torch.jit.save(traced, os.fspath(path), _extra_files={EXTRA_FILE: json.dumps(metadata, indent=2)})


def _load_scripted(path: str | os.PathLike) -> tuple[torch.jit.ScriptModule, dict[str, Any]]:
    extra = {EXTRA_FILE: ""}
    with _quiet_deprecations():
        module = torch.jit.load(os.fspath(path), map_location="cpu", _extra_files=extra)
    return module.eval(), json.loads(extra[EXTRA_FILE] or "{}")


def load_torchscript(path: str | os.PathLike) -> Runner:
    """The reloaded TorchScript module, as a tensor-to-tensor function.

    It runs under ``torch.no_grad``: under ``torch.inference_mode`` TorchScript's profiling executor takes many slow
    calls to settle.
    """
    module, _ = _load_scripted(path)

    def run(x: ModelInput) -> torch.Tensor:
        with torch.no_grad():
            return module(*as_args(x))

    return run


def read_torchscript_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The metadata stored in a TorchScript file's ``dfdet.json``."""
    return _load_scripted(path)[1]


LOADERS: dict[str, Callable[..., Runner]] = {"onnx": load_onnx, "torchscript": load_torchscript}
READERS: dict[str, Callable[[str | os.PathLike], dict[str, Any]]] = {
    "onnx": read_onnx_metadata,
    "torchscript": read_torchscript_metadata,
}
