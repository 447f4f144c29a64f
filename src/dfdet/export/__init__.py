"""Deployable artifacts of a trained detector: ONNX and TorchScript with metadata, verified against eager PyTorch."""

from dfdet.export.errors import ExportError
from dfdet.export.formats import (
    LogitNet,
    export_onnx,
    export_torchscript,
    load_onnx,
    load_torchscript,
    read_onnx_metadata,
    read_torchscript_metadata,
)
from dfdet.export.inputs import input_kinds, make_inputs, model_contract, verification_inputs
from dfdet.export.metadata import OUTPUT_MEANING, build_metadata, config_sha256
from dfdet.export.pipeline import ExportOptions, default_output_dir, export_detector, onnx_session, parse_formats
from dfdet.export.verify import eager_runner, max_abs_diff, seconds_per_batch, verify_runner

__all__ = [
    "OUTPUT_MEANING",
    "ExportError",
    "ExportOptions",
    "LogitNet",
    "build_metadata",
    "config_sha256",
    "default_output_dir",
    "eager_runner",
    "export_detector",
    "export_onnx",
    "export_torchscript",
    "input_kinds",
    "load_onnx",
    "load_torchscript",
    "make_inputs",
    "max_abs_diff",
    "model_contract",
    "onnx_session",
    "parse_formats",
    "read_onnx_metadata",
    "read_torchscript_metadata",
    "seconds_per_batch",
    "verification_inputs",
    "verify_runner",
]
