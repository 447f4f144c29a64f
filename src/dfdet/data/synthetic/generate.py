"""Builds the synthetic deepfake dataset: identities, talking-head "videos", two manipulation methods.

The dataset is laid out like a preprocessed real dataset: JPEG face frames under ``frames/<video_id>/`` and a Parquet
manifest with one row per frame (see :mod:`dfdet.data.manifest`). It is generated once into a cache folder whose name
hashes the generator version and every parameter, written to a temporary folder first and renamed into place, so an
interrupted build never leaves a partial dataset behind.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from dfdet.data.synthetic.manipulate import METHODS, faceswap, reenact
from dfdet.data.synthetic.render import (
    FrameParams,
    Identity,
    feature_points,
    render_background,
    render_face,
    sample_identity,
    to_image_xy,
)
from dfdet.utils.cache import build_once

GENERATOR_VERSION = 1
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class SyntheticSpec:
    """What to generate. Identities are disjoint across splits; every real video has one fake counterpart."""

    seed: int = 0
    image_size: int = 96
    identities: tuple[int, int, int] = (48, 12, 12)  # train, val, test
    videos_per_identity: int = 2
    frames_per_video: int = 8
    jpeg_quality: tuple[int, int] = (60, 95)

    def cache_key(self) -> str:
        blob = json.dumps({"version": GENERATOR_VERSION, **asdict(self)}, sort_keys=True)
        return f"v{GENERATOR_VERSION}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}"


def trajectory(rng: np.random.Generator, frames: int, speed: float = 1.0) -> list[FrameParams]:
    """Smooth head motion, lighting and talking/blinking over ``frames`` frames of one video.

    ``speed`` scales every motion's angular frequency (1: the sparse frames of the face set; about 0.1 at 25 fps).
    """
    t = np.arange(frames, dtype=np.float32) * speed

    def wave(amp: float, base: float) -> np.ndarray:
        return base + amp * np.sin(rng.uniform(0.15, 0.6) * t + rng.uniform(0, 2 * np.pi))

    light = rng.normal(0, 1, 3) * np.array([1, 1, 0.5]) + np.array([0, -0.3, 1.2])
    light = (light / np.linalg.norm(light)).astype(np.float32)
    gain = (rng.uniform(0.75, 1.15) * rng.uniform(0.9, 1.1, 3)).astype(np.float32)
    cx, cy = wave(0.03, rng.uniform(0.45, 0.55)), wave(0.03, rng.uniform(0.46, 0.54))
    scale = wave(0.05, rng.uniform(0.95, 1.2))
    roll, yaw, pitch = wave(0.08, rng.uniform(-0.2, 0.2)), wave(0.25, rng.uniform(-0.35, 0.35)), wave(0.15, 0.0)
    mouth = np.clip(wave(0.6, 0.3) + rng.normal(0, 0.15, frames), 0, 1)
    blink_at = rng.integers(0, frames) if rng.uniform() < 0.5 else -1
    ambient = rng.uniform(0.35, 0.65)
    return [
        FrameParams(
            cx=float(cx[i]),
            cy=float(cy[i]),
            scale=float(scale[i]),
            roll=float(roll[i]),
            yaw=float(yaw[i]),
            pitch=float(pitch[i]),
            light=light,
            ambient=ambient,
            gain=gain,
            mouth_open=float(mouth[i]),
            blink=1.0 if i == blink_at else 0.0,
        )
        for i in range(frames)
    ]


def _landmarks(ident: Identity, fp: FrameParams, size: int) -> tuple[list[float], list[float]]:
    """5-point landmarks (eyes, nose, mouth corners; x, y pixels) and the face box (x1, y1, x2, y2)."""
    pts = feature_points(ident, fp)
    order = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")
    lms = [c for name in order for c in to_image_xy(*pts[name], fp, size)]
    cx, cy = fp.cx * size, fp.cy * size
    hw, hh = ident.face_ax * fp.scale * size, ident.face_ay * fp.scale * size
    return lms, [cx - hw, cy - hh, cx + hw, cy + hh]


def _save_jpeg(img: np.ndarray, path: Path, quality: int) -> None:
    Image.fromarray((np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)).save(path, quality=quality)


def _video_rows(
    split: str, video_id: str, label: int, method: str, paths: list[str], lms: list, boxes: list
) -> list[dict]:
    return [
        {
            "dataset": "synthetic",
            "split": split,
            "video_id": video_id,
            "label": label,
            "method": method,
            "frame_index": i,
            "path": p,
            "box": boxes[i],
            "landmarks": lms[i],
            "det_score": 1.0,
        }
        for i, p in enumerate(paths)
    ]


def _generate_split(spec: SyntheticSpec, split: str, n_ids: int, seq: np.random.SeedSequence, out: Path) -> list[dict]:
    ident_rng, *video_seqs = seq.spawn(1 + n_ids)
    idents = [
        sample_identity(np.random.default_rng(s))
        for s in np.random.SeedSequence(int(ident_rng.generate_state(1)[0])).spawn(n_ids)
    ]
    rows: list[dict] = []
    size = spec.image_size
    for i, ident in enumerate(idents):
        for j, vseq in enumerate(video_seqs[i].spawn(spec.videos_per_identity)):
            rng = np.random.default_rng(vseq)
            real_id = f"{split}_id{i:03d}_v{j}"
            method = METHODS[(i + j) % len(METHODS)]
            donor_idx = int((i + rng.integers(1, n_ids)) % n_ids)
            fake_id = f"{real_id}_{method}" + (f"_id{donor_idx:03d}" if method == "faceswap" else "")
            background = render_background(size, rng)
            frames = trajectory(rng, spec.frames_per_video)
            noise_sigma = rng.uniform(0.0, 0.02)
            quality_real = int(rng.integers(*spec.jpeg_quality, endpoint=True))
            quality_fake = int(rng.integers(*spec.jpeg_quality, endpoint=True))
            for vid in (real_id, fake_id):
                (out / "frames" / vid).mkdir(parents=True, exist_ok=True)
            real_paths, fake_paths, lms, boxes = [], [], [], []
            for k, fp in enumerate(frames):
                real = render_face(ident, fp, background)
                real = np.clip(real + rng.normal(0, noise_sigma, real.shape), 0, 1).astype(np.float32)
                if method == "faceswap":
                    fake, _ = faceswap(real, render_face(idents[donor_idx], fp, background), ident, fp, rng)
                else:
                    other = frames[(k + len(frames) // 2) % len(frames)]
                    alt = FrameParams(**{**fp.__dict__, "mouth_open": other.mouth_open, "blink": 0.0})
                    fake, _ = reenact(real, render_face(ident, alt, background), ident, fp, rng)
                rp, fk = f"frames/{real_id}/{k:04d}.jpg", f"frames/{fake_id}/{k:04d}.jpg"
                _save_jpeg(real, out / rp, quality_real)
                _save_jpeg(fake, out / fk, quality_fake)
                real_paths.append(rp)
                fake_paths.append(fk)
                lm, box = _landmarks(ident, fp, size)
                lms.append(lm)
                boxes.append(box)
            rows += _video_rows(split, real_id, 0, "real", real_paths, lms, boxes)
            rows += _video_rows(split, fake_id, 1, method, fake_paths, lms, boxes)
    return rows


def generate(spec: SyntheticSpec, out: Path) -> pd.DataFrame:
    """Generates the whole dataset into ``out`` (which must not exist) and writes ``out/manifest.parquet``."""
    out.mkdir(parents=True)
    rows: list[dict] = []
    for split, n_ids, seq in zip(SPLITS, spec.identities, np.random.SeedSequence(spec.seed).spawn(3), strict=True):
        rows += _generate_split(spec, split, n_ids, seq, out)
    manifest = pd.DataFrame(rows)
    manifest.to_parquet(out / "manifest.parquet", index=False)
    (out / "spec.json").write_text(json.dumps(asdict(spec), indent=2))
    return manifest


def ensure_synthetic(spec: SyntheticSpec, cache_dir: str | os.PathLike) -> Path:
    """Returns the manifest path of ``spec``'s dataset under ``cache_dir``, generating it on first use."""
    final = Path(cache_dir) / f"synthetic-{spec.cache_key()}"
    return build_once(final, lambda tmp: len(generate(spec, tmp)), "synthetic dataset")
