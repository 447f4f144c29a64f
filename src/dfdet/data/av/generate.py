"""Builds the built-in talking-clip set: persons, real talking clips with sound and their audio-visual fakes.

Each person of a split (face, voice, background; disjoint across train/val/test) gets ``clips_per_person`` real
clips, each with one fake counterpart, the fake method cycling over :data:`~dfdet.data.av.talking.METHODS`. Layout:

- ``videos/<split>/<video_id>.mp4``: H.264 with an AAC sound track (:func:`dfdet.testing.media.write_video`);
- ``frames/<video_id>/<k>.jpg``: every frame decoded back from the mp4 (the face fills the frame, so a frame is its
  face crop, as in the synthetic face set);
- ``manifest.parquet``: one row per frame (:mod:`dfdet.data.manifest` columns, ``source`` the mp4 relative to the
  folder, ``fake_frame`` 1 inside a fake segment) plus the video's labels: ``fake_segments``,
  ``visual_fake_segments``, ``audio_fake_segments`` (JSON lists of ``[start, end]`` seconds), ``av_offset`` (frames
  the sound lags), ``lead`` (frames the lips lead the sound), ``fps``;
- ``metadata.json``: one entry per video with the same labels, named as AV-Deepfake1M's metadata
  (``file``, ``split``, ``modify_video``, ``modify_audio``, ``video_frames``, ``audio_frames``, ...).

Generated once into a folder named after a hash of the generator version and every parameter, built in a temporary
folder and renamed into place (:func:`dfdet.utils.cache.build_once`).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import av
import numpy as np
import pandas as pd
from PIL import Image

from dfdet.data.audio.synthetic.speech import SAMPLE_RATE
from dfdet.data.av.talking import AUDIO, METHODS, VISUAL, ClipSpec, TalkingClip, sample_person, talking_pair
from dfdet.utils.cache import build_once

GENERATOR_VERSION = 1
SPLITS = ("train", "val", "test")
DATASET = "synthetic_av"


@dataclass(frozen=True)
class SyntheticAVSpec:
    """What to generate: persons per split (disjoint), real clips per person (each with one fake), clip geometry."""

    seed: int = 0
    persons: tuple[int, int, int] = (16, 4, 4)  # train, val, test
    clips_per_person: int = 2
    size: int = 96
    fps: int = 25
    seconds: float = 3.0
    jpeg_quality: int = 90

    def clip_spec(self) -> ClipSpec:
        return ClipSpec(size=self.size, fps=self.fps, seconds=self.seconds)

    def cache_key(self) -> str:
        blob = json.dumps({"version": GENERATOR_VERSION, **asdict(self)}, sort_keys=True)
        return f"v{GENERATOR_VERSION}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}"


def decode_frames(path: str | os.PathLike) -> list[np.ndarray]:
    """Every frame of a video's first video stream as RGB (H, W, 3) uint8."""
    with av.open(str(path)) as container:
        return [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]


def write_clip(clip: TalkingClip, out: Path, split: str, video_id: str, jpeg_quality: int) -> tuple[list, dict]:
    """Writes a clip's mp4 and frames under ``out``; returns its manifest rows and its metadata entry."""
    from dfdet.testing.media import write_video

    rel = f"videos/{split}/{video_id}.mp4"
    write_video(out / rel, list(clip.frames), clip.fps, clip.audio, SAMPLE_RATE)
    (out / "frames" / video_id).mkdir(parents=True)
    labels = clip.labels()
    segments = {k: json.dumps(labels[k]) for k in ("fake_segments", "visual_fake_segments", "audio_fake_segments")}
    rows = []
    for k, frame in enumerate(decode_frames(out / rel)):
        path = f"frames/{video_id}/{k:04d}.jpg"
        Image.fromarray(frame).save(out / path, quality=jpeg_quality)
        t = k / clip.fps
        inside = any(lo <= t < hi for lo, hi in labels["fake_segments"])
        row = {"dataset": DATASET, "split": split, "video_id": video_id, "label": clip.label, "method": clip.method}
        rows.append({**row, "frame_index": k, "path": path, "source": rel, "fake_frame": int(inside), **segments,
                     "av_offset": clip.av_offset, "lead": clip.lead, "fps": clip.fps})  # fmt: skip
    meta = {"file": rel, "split": split, **labels, "modify_video": clip.method in VISUAL,
            "modify_audio": clip.method in AUDIO, "video_frames": len(rows), "audio_frames": len(clip.audio),
            "fps": clip.fps, "sample_rate": SAMPLE_RATE}  # fmt: skip
    return rows, meta


def generate(spec: SyntheticAVSpec, out: Path) -> pd.DataFrame:
    """Generates the set into ``out`` (which must not exist); writes ``manifest.parquet`` and ``metadata.json``."""
    out.mkdir(parents=True)
    clip_spec = spec.clip_spec()
    rows: list[dict] = []
    metadata: list[dict] = []
    n = 0  # clips so far: the methods cycle over the whole set, so even a tiny set holds every kind
    for split, count, seq in zip(SPLITS, spec.persons, np.random.SeedSequence(spec.seed).spawn(3), strict=True):
        person_seq, *clip_seqs = seq.spawn(1 + count)
        persons = [sample_person(np.random.default_rng(s), clip_spec) for s in person_seq.spawn(count)]
        for i, person in enumerate(persons):
            for j, cseq in enumerate(clip_seqs[i].spawn(spec.clips_per_person)):
                rng = np.random.default_rng(cseq)
                method = METHODS[n % len(METHODS)]
                n += 1
                donor = persons[(i + 1 + int(rng.integers(max(count - 1, 1)))) % count]
                real, fake = talking_pair(person, donor, method, clip_spec, rng)
                real_id = f"{split}_p{i:03d}_c{j}"
                for clip, video_id in ((real, real_id), (fake, f"{real_id}_{method}")):
                    clip_rows, meta = write_clip(clip, out, split, video_id, spec.jpeg_quality)
                    rows += clip_rows
                    metadata.append(meta)
    manifest = pd.DataFrame(rows)
    manifest.to_parquet(out / "manifest.parquet", index=False)
    (out / "metadata.json").write_text(json.dumps(metadata, indent=1))
    (out / "spec.json").write_text(json.dumps(asdict(spec), indent=2))
    return manifest


def ensure_synthetic_av(spec: SyntheticAVSpec, cache_dir: str | os.PathLike) -> Path:
    """Returns the manifest path of ``spec``'s set under ``cache_dir``, generating it on first use."""
    final = Path(cache_dir) / f"{DATASET}-{spec.cache_key()}"
    return build_once(final, lambda tmp: generate(spec, tmp)["video_id"].nunique(), "talking-clip set")
