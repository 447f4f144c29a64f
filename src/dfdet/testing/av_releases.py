"""Tiny trees in the release layouts of the audio-visual datasets (FakeAVCeleb v1.2, LAV-DF, AV-Deepfake1M), for
tests: the metadata files exactly as published, and each listed video copied from a given clip (or a placeholder
when only the layout is tested)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path


def _put(path: Path, clip: str | Path | None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if clip is None:
        path.write_bytes(b"\x00")  # a placeholder: layout tests only look for the file
    else:
        shutil.copyfile(clip, path)


def make_fakeavceleb(root: str | Path, identities: int = 6, clips: dict[str, str | Path] | None = None) -> Path:
    """FakeAVCeleb v1.2: one video of each category per identity, and ``meta_data.csv`` with its 10-value rows.

    Args:
        root: the release folder to write.
        identities: source identities (``id0000k``).
        clips: category -> the video to copy for it (None: placeholders).
    """
    root = Path(root)
    methods = {"RealVideo-RealAudio": "real", "FakeVideo-RealAudio": "faceswap", "RealVideo-FakeAudio": "rtvc",
               "FakeVideo-FakeAudio": "faceswap-wav2lip"}  # fmt: skip
    lines = ["source,target1,target2,method,category,type,race,gender,path,"]
    for k in range(identities):
        ident = f"id{k:05d}"
        for n, (kind, method) in enumerate(methods.items()):
            name = "00001.mp4" if method == "real" else f"00001_{n}_id9{k:04d}_{method}.mp4"
            folder = f"{kind}/African/men/{ident}"
            target = "-" if method == "real" else f"id9{k:04d}"
            lines.append(f"{ident},{target},-,{method},{'ABCD'[n]},{kind},African,men,{name},FakeAVCeleb/{folder}")
            _put(root / folder / name, (clips or {}).get(kind))
    (root / "meta_data.csv").write_text("\n".join(lines) + "\n")
    return root


def make_lavdf(root: str | Path, entries: Sequence[dict], clips: dict[str, str | Path] | None = None) -> Path:
    """LAV-DF: ``metadata.json`` and the videos it lists.

    Args:
        entries: ``{"file": "train/000001.mp4", "split": "train", "fake_periods": [[s, e]], "modify_video": bool,
            "modify_audio": bool}`` (``n_fakes``, ``duration`` and ``original`` are filled in).
        clips: file -> the video to copy (None or absent: placeholders).
    """
    root = Path(root)
    meta = []
    for entry in entries:
        full = {"n_fakes": len(entry.get("fake_periods", [])), "duration": 1.0, "original": None, **entry}
        meta.append(full)
        _put(root / entry["file"], (clips or {}).get(entry["file"]))
    root.mkdir(parents=True, exist_ok=True)
    (root / "metadata.json").write_text(json.dumps(meta))
    return root


def make_avdeepfake1m(
    root: str | Path, entries: dict[str, Sequence[dict]], clips: dict[str, str | Path] | None = None
) -> Path:
    """AV-Deepfake1M: ``{train,val}_metadata.json`` and ``<subset>/<file>`` for each entry.

    Args:
        entries: subset (``train``, ``val``) -> ``{"file", "original", "modify_type", "fake_segments",
            "visual_fake_segments", "audio_fake_segments"}``.
        clips: ``<subset>/<file>`` -> the video to copy (None or absent: placeholders).
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    for subset, rows in entries.items():
        meta = [{"split": subset, "video_frames": 25, "audio_frames": 16000, "audio_model": "", **r} for r in rows]
        (root / f"{subset}_metadata.json").write_text(json.dumps(meta))
        for r in rows:
            _put(root / subset / r["file"], (clips or {}).get(f"{subset}/{r['file']}"))
    return root
