"""File digests and the string encoding of ONNX metadata: standard library only, so the ONNX-only prediction path
can use them without importing the training stack."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from typing import Any


def file_sha256(path: str | os.PathLike) -> str:
    """sha256 of a file's bytes, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _reads_as_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def to_string_props(metadata: Mapping[str, Any]) -> dict[str, str]:
    """ONNX ``metadata_props`` hold strings: strings stay as they are, everything else becomes JSON. A string that
    would read back as JSON (a digest such as ``853448e62957`` reads as a float, ``123456`` as an integer) is stored
    as a JSON string too, so :func:`from_string_props` gives back exactly what was stored."""
    return {k: v if isinstance(v, str) and not _reads_as_json(v) else json.dumps(v) for k, v in metadata.items()}


def from_string_props(props: Mapping[str, str]) -> dict[str, Any]:
    """Inverse of :func:`to_string_props`."""
    out: dict[str, Any] = {}
    for key, value in props.items():
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out
