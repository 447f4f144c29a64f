"""DFDC (Dolhansky et al. 2020): the training parts, the public test set and the DFDC preview, as released.

Layout (any combination)::

    <root>/dfdc_train_part_<n>/metadata.json + *.mp4   {"abc.mp4": {"label": "REAL"|"FAKE", "original": ...}}
    <root>/<test folder>/labels.csv + *.mp4             columns filename,label (1 = fake), or
    <root>/<test folder>/metadata.json + *.mp4          {"abc.mp4": {"is_fake": 0|1, ...}}
    <root>/dataset.json + the paths it lists            DFDC preview: {"<path>": {"label": "real"|"fake",
                                                        "set": "train"|"test", "target_id": ...}}

Splits: training parts are train, except a validation set carved by original video (a fake goes with its
original; :func:`~dfdet.data.layouts.pick_groups` over the originals) or, with ``val_parts``, whole parts. Public
test folders are test. The preview keeps its own train/test ``set``; its val is carved by ``target_id``.
The method of full-DFDC fakes is not released: ``method`` is ``dfdc`` for them; preview fakes keep
``method_A``/``method_B``. Video ids: ``dfdc_train_part_0/abc``, ``<test folder>/abc``, preview paths. A
training fake's ``original`` is its metadata's ``original`` (in the same part); the test sets do not say.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from dfdet.data.layouts import LayoutReport, list_files, pick_groups, video_table
from dfdet.preprocess.releases.base import Release, check_fraction, rel

PART_PREFIX = "dfdc_train_part_"
PREVIEW_LIST = "dataset.json"


class DFDCRelease(Release):
    """Reads a DFDC release folder.

    Args:
        root: the release folder.
        val_fraction: fraction of the training originals (with their fakes) put in val; unused with ``val_parts``.
        val_parts: numbers of training parts used as val instead (e.g. ``[45, 46, 47, 48, 49]``).
    """

    key = "dfdc"

    def __init__(
        self, root: str | os.PathLike | None, val_fraction: float = 0.1, val_parts: Sequence[int] | None = None
    ) -> None:
        super().__init__(root)
        self.val_fraction = check_fraction("val_fraction", val_fraction)
        self.val_parts = {int(p) for p in val_parts} if val_parts is not None else None

    def scan(self) -> tuple[pd.DataFrame, LayoutReport]:
        root = self.resolved_root()
        report = LayoutReport(self.key, root)
        entries = [e for e in sorted(root.iterdir()) if not e.name.startswith(".")]
        parts = [e for e in entries if e.is_dir() and e.name.startswith(PART_PREFIX)]
        tests = [
            e
            for e in entries
            if e.is_dir() and e not in parts and any((e / n).is_file() for n in ("labels.csv", "metadata.json"))
        ]
        preview = self._preview_rows(root, report) if (root / PREVIEW_LIST).is_file() else []
        known = {*(e.name for e in parts + tests), PREVIEW_LIST, *(r["source"].split("/", 1)[0] for r in preview)}
        report.unexpected += [e.name for e in entries if e.name not in known]
        if not parts and not tests and not (root / PREVIEW_LIST).is_file():
            report.missing.append(f"{PART_PREFIX}*/metadata.json, a test folder with labels.csv, or {PREVIEW_LIST}")
        train_rows = [r for part in parts for r in self._part_rows(root, part, report)]
        tests_rows = [r for folder in tests for r in self._test_rows(root, folder, report)]
        return video_table(self._carve_val(train_rows) + tests_rows + preview), report

    def _part_rows(self, root: Path, part: Path, report: LayoutReport) -> list[dict]:
        meta = _read_json(part / "metadata.json", root, report)
        videos, other = list_files(part, (".mp4",))
        report.unexpected += [rel(p, root) for p in other if p.name != "metadata.json"]
        if meta is None:
            return []
        on_disk = {p.name for p in videos}
        rows = []
        for name, entry in sorted(meta.items()):
            label = str(entry.get("label", "")).upper() if isinstance(entry, dict) else ""
            if label not in ("REAL", "FAKE"):
                report.unexpected.append(f"{part.name}/metadata.json: '{name}' has no label REAL or FAKE")
                continue
            if name not in on_disk:
                report.add_absent(f"{part.name}/metadata.json", name)
                continue
            original = entry.get("original") if label == "FAKE" else None
            original = original if isinstance(original, str) and original else None
            rows.append(
                {
                    "dataset": self.key,
                    "split": "train",
                    "video_id": f"{part.name}/{Path(name).stem}",
                    "label": int(label == "FAKE"),
                    "method": "dfdc" if label == "FAKE" else "real",
                    "source": f"{part.name}/{name}",
                    "original": f"{part.name}/{Path(original).stem}" if original else "",
                    "_group": Path(original or name).stem,
                    "_part": part.name[len(PART_PREFIX) :],
                }
            )
        report.exclude(f"in {part.name} are not in its metadata.json", len(on_disk - set(meta)))
        return rows

    def _carve_val(self, rows: list[dict]) -> list[dict]:
        if self.val_parts is not None:
            val = {str(p) for p in self.val_parts}
            in_val = [r["_part"] in val for r in rows]
        else:
            groups = pick_groups((r["_group"] for r in rows), self.val_fraction)
            in_val = [r["_group"] in groups for r in rows]
        out = []
        for row, is_val in zip(rows, in_val, strict=True):
            row = {k: v for k, v in row.items() if not k.startswith("_")}
            out.append({**row, "split": "val" if is_val else "train"})
        return out

    def _test_rows(self, root: Path, folder: Path, report: LayoutReport) -> list[dict]:
        labels: dict[str, int] = {}
        if (folder / "labels.csv").is_file():
            with open(folder / "labels.csv", newline="") as f:
                for n, rec in enumerate(csv.DictReader(f), start=2):
                    if rec.get("label") in ("0", "1") and rec.get("filename"):
                        labels[rec["filename"]] = int(rec["label"])
                    else:
                        report.unexpected.append(f"{folder.name}/labels.csv line {n}: {rec}")
        else:
            meta = _read_json(folder / "metadata.json", root, report) or {}
            for name, entry in meta.items():
                fake = entry.get("is_fake", entry.get("label")) if isinstance(entry, dict) else None
                fake = {"FAKE": 1, "REAL": 0}.get(str(fake).upper(), fake)
                if fake in (0, 1, True, False):
                    labels[name] = int(fake)
                else:
                    report.unexpected.append(f"{folder.name}/metadata.json: '{name}' has no is_fake")
        on_disk = {p.name for p in list_files(folder, (".mp4",))[0]}
        report.exclude(f"in {folder.name} are not in its labels", len(on_disk - labels.keys()))
        listing = f"{folder.name}/{'labels.csv' if (folder / 'labels.csv').is_file() else 'metadata.json'}"
        rows = []
        for name, label in sorted(labels.items()):
            if not (folder / name).is_file():
                report.add_absent(listing, name)
                continue
            rows.append(
                {
                    "dataset": self.key,
                    "split": "test",
                    "video_id": f"{folder.name}/{Path(name).stem}",
                    "label": label,
                    "method": "dfdc" if label else "real",
                    "source": f"{folder.name}/{name}",
                }
            )
        return rows

    def _preview_rows(self, root: Path, report: LayoutReport) -> list[dict]:
        meta = _read_json(root / PREVIEW_LIST, root, report) or {}
        rows: list[dict] = []
        groups: dict[str, str] = {}
        for path, entry in sorted(meta.items()):
            label = str(entry.get("label", "")).lower() if isinstance(entry, dict) else ""
            if label not in ("real", "fake") or entry.get("set") not in ("train", "test"):
                report.unexpected.append(f"{PREVIEW_LIST}: '{path}' has no label real/fake or set train/test")
                continue
            if not (root / path).is_file():
                report.add_absent(PREVIEW_LIST, path)
                continue
            method = path.split("/", 1)[0] if label == "fake" else "real"
            groups[path] = str(entry.get("target_id") or Path(path).stem)
            rows.append(
                {
                    "dataset": self.key,
                    "split": entry["set"],
                    "video_id": str(Path(path).with_suffix("")),
                    "label": int(label == "fake"),
                    "method": method,
                    "source": path,
                }
            )
        val = pick_groups((groups[r["source"]] for r in rows if r["split"] == "train"), self.val_fraction)
        for r in rows:
            if r["split"] == "train" and groups[r["source"]] in val:
                r["split"] = "val"
        return rows


def _read_json(path: Path, root: Path, report: LayoutReport) -> Any:
    """Parsed JSON object, or None (reported as missing) when absent, unreadable or not an object."""
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        report.missing.append(rel(path, root))
        return None
    except (OSError, ValueError) as exc:
        report.missing.append(f"{rel(path, root)} (unreadable: {exc})")
        return None
    if not isinstance(data, dict):
        report.missing.append(f"{rel(path, root)} (not a JSON object)")
        return None
    return data
