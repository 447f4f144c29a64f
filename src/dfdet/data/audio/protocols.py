"""Reading the protocol and key files of speech anti-spoofing releases, shared by every audio source.

ASVspoof writes one trial per line, fields separated by spaces (2019 CM protocols, 2021 ``trial_metadata.txt``,
ASVspoof 5's ``.tsv`` files, which are space-separated too); other releases write CSV with a header (In-the-Wild's
``meta.csv``, the Speech DF Arena protocols). :func:`read_fields` and :func:`read_csv_columns` read both into string
columns and name ``file:line`` on the first malformed line; :func:`protocol_manifest` turns such a table into
manifest rows. :func:`load_pickled_npy` reads the pickled label dictionaries of PartialSpoof without running
arbitrary pickles.
"""

from __future__ import annotations

import csv
import io
import os
import pickle
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from dfdet.errors import ManifestError

COLUMNS = ("dataset", "split", "utt_id", "speaker", "label", "method", "path")


def read_fields(
    path: Path, names: Sequence[str], allowed: Mapping[str, Sequence[str]] | None = None, min_fields: int | None = None
) -> pd.DataFrame:
    """A whitespace-separated protocol file as string columns.

    Args:
        path: the file.
        names: the column names, in order.
        allowed: the values a column may take (e.g. ``{"key": ("bonafide", "spoof")}``).
        min_fields: lines may have this many fields or more, up to ``len(names)`` (missing ones are ``-``); None:
            exactly ``len(names)``.

    Raises:
        ManifestError: naming ``file:line`` and the expected fields, or a file without lines.
    """
    allowed = allowed or {}
    least = len(names) if min_fields is None else min_fields
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        bad = [c for c, v in zip(names, fields, strict=False) if c in allowed and v not in allowed[c]]
        if not least <= len(fields) <= len(names) or bad:
            expected = " ".join(f"{c.upper()}({'|'.join(allowed[c])})" if c in allowed else c.upper() for c in names)
            raise ManifestError(f"{path}:{n}: expected '{expected}', got '{line.strip()}'")
        rows.append(fields + ["-"] * (len(names) - len(fields)))
    if not rows:
        raise ManifestError(f"{path} lists no trials")
    return pd.DataFrame(rows, columns=list(names))


def read_csv_columns(
    path: Path, needed: Sequence[str], allowed: Mapping[str, Sequence[str]] | None = None
) -> pd.DataFrame:
    """A CSV file with a header as string columns; ``needed`` must be among its columns.

    Raises:
        ManifestError: a missing column, or ``file:line`` of a value outside ``allowed``.
    """
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        header = [h.strip() for h in reader.fieldnames or []]
        missing = [c for c in needed if c not in header]
        if missing:
            raise ManifestError(f"{path}: expected columns {', '.join(needed)} in its header, got {', '.join(header)}")
        rows = []
        for n, raw in enumerate(reader, start=2):
            row = {k.strip(): (v or "").strip() for k, v in raw.items() if k is not None}
            for column, values in (allowed or {}).items():
                if row[column] not in values:
                    raise ManifestError(f"{path}:{n}: {column} must be {' or '.join(values)}, got '{row[column]}'")
            rows.append(row)
    if not rows:
        raise ManifestError(f"{path} lists no files")
    return pd.DataFrame(rows, columns=header)


def protocol_manifest(
    table: pd.DataFrame,
    dataset: str,
    split: str | pd.Series,
    path_of: Callable[[str], str],
    spoof: pd.Series,
    method: pd.Series | str,
    utt: str = "utt_id",
    speaker: str | None = "speaker",
    extra: Sequence[str] = (),
) -> pd.DataFrame:
    """Manifest rows (:data:`COLUMNS` plus ``extra``) from a protocol table.

    Args:
        table: the protocol's columns.
        dataset: the ``dataset`` value.
        split: the split of every row, or of each row.
        path_of: the absolute audio path of an utterance id (or file name).
        spoof: True for spoofed rows.
        method: each spoofed row's attack (bona fide rows get ``real``), or one name for all spoofs.
        utt, speaker: the columns holding the utterance id and the speaker (None: no speaker, ``-``).
        extra: further protocol columns kept as they are (``codec``, ``vocoder``, ...).
    """
    spoof = spoof.astype(bool).to_numpy()
    attack = np.full(len(table), method, dtype=object) if isinstance(method, str) else method.to_numpy(dtype=object)
    out = pd.DataFrame(
        {
            "dataset": dataset,
            "split": split if isinstance(split, str) else split.to_numpy(),
            "utt_id": table[utt].to_numpy(),
            "speaker": table[speaker].to_numpy() if speaker else "-",
            "label": spoof.astype("int64"),
            "method": np.where(spoof, attack, "real"),
            "path": [path_of(u) for u in table[utt]],
        }
    )
    for column in extra:
        out[column] = table[column].to_numpy()
    return out


def float_column(table: pd.DataFrame, column: str, path: Path) -> pd.Series:
    """``table[column]`` as floats; :class:`ManifestError` naming ``path`` when a value is not a number."""
    try:
        return table[column].astype(float)
    except ValueError as exc:
        raise ManifestError(f"{path}: a {column.upper()} is not a number ({exc})") from exc


def file_in(folder: Path, suffix: str = "") -> Callable[[str], str]:
    """The path of an utterance id (or file name) in ``folder``, with ``suffix`` appended: a ``path_of`` for
    :func:`protocol_manifest`."""

    def path_of(name: str) -> str:
        return str(folder / f"{name}{suffix}")

    return path_of


def missing_files(df: pd.DataFrame, where: str) -> None:
    """Raises :class:`ManifestError` counting the listed files that are not on disk (naming one)."""
    missing = [p for p in df["path"] if not os.path.isfile(p)]
    if missing:
        raise ManifestError(f"{where}: {len(missing)} of {len(df)} listed audio files are missing, e.g. {missing[0]}")


class _LabelUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays, dicts and lists only: a label file cannot run code."""

    SAFE = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("collections", "defaultdict"),
        ("collections", "OrderedDict"),
        ("builtins", "list"),
        ("builtins", "dict"),
        ("builtins", "str"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.SAFE:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a label file")
        if module == "numpy.core.multiarray":  # written by numpy 1.x
            module = "numpy._core.multiarray"
        return super().find_class(module, name)


def load_pickled_npy(path: Path) -> Any:
    """The object stored in a ``.npy`` file of a pickled object (``np.save`` of a dict), unpickled with only numpy
    arrays, dicts, lists and strings allowed (``np.load(allow_pickle=True)`` would run any pickle).

    Raises:
        ManifestError: not a ``.npy`` file, or one holding anything else.
    """
    try:
        with open(path, "rb") as f:
            version = np.lib.format.read_magic(f)
            header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, _, dtype = header(f)
            if not dtype.hasobject:
                return np.lib.format.read_array(io.BytesIO(path.read_bytes()))
            array = _LabelUnpickler(f).load()
    except (ValueError, OSError, EOFError, pickle.UnpicklingError, AttributeError) as exc:
        raise ManifestError(f"Cannot read the label file {path} ({type(exc).__name__}: {exc})") from exc
    return array.item() if getattr(array, "shape", None) == () and shape == () else array
