"""Cost of the learned audio-visual models per minute of 720p video on the CPU, measured in one run.

A 10-second 1280 x 720, 25 fps talking video with sound is written (frames from ``../shared/data/video`` as in
``bench_predict.py``, or generated ones; the sound is the built-in synthetic speech), and the learned sync model
(``model=syncnet``, full size, untrained: speed does not depend on the weights) is timed stage by stage on all of
it, as a per-window sync measure of every 5-frame window needs:

- ``decode``: every frame and the sound track (PyAV);
- ``faces``: the face pipeline of conf/predict.yaml on *every* frame (MTCNN on 320-px copies of every 2nd frame,
  tracking, crops), what the mouth stream is cut from;
- ``syncnet``: the network on every 5-frame window (0.2 s) with its sound (±15 offsets of 0.2 s of log-mel), eager
  PyTorch at ``--threads``; the joint model (``model=av_joint``, 8-frame clips) is timed the same way.

Reported: seconds per stage for the 10 s, and per minute of video (x6), with the real-time factor of the whole.

Usage: ``uv run python benchmarks/bench_av_models.py [--threads 2] [--json out.json]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_predict's video builder (a sibling script)

from bench_predict import FPS, SECONDS, make_video  # noqa: E402


def _with_sound(video: Path, out: Path) -> None:
    """Copies ``video`` with a sound track of synthetic speech (the talking clips' voice model)."""
    from dfdet.data.audio.synthetic.generate import SAMPLE_RATE, synthesize_pair
    from dfdet.data.audio.synthetic.speech import sample_speaker
    from dfdet.testing.media import write_video

    rng = np.random.default_rng(0)
    voice, _ = synthesize_pair("gl_vocoder", sample_speaker(rng), rng, (SECONDS, SECONDS))
    with av.open(str(video)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    write_video(out, frames, FPS, voice, SAMPLE_RATE)


def _model(name: str) -> torch.nn.Module:
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("train", [f"model={name}", "data=synthetic_av"])
    return instantiate(cfg.model).eval()


def _windows(model: torch.nn.Module, crops: np.ndarray, wave: np.ndarray, fps: float, batch: int = 16) -> float:
    """Seconds to score every clip of the model's length (clips of ``clip_len`` frames every ``clip_len``)."""
    from dfdet.data.audio.crops import centred_window
    from dfdet.predict.scoring import make_clips, to_input

    contract = model.contract  # type: ignore[attr-defined]
    t = int(contract.clip_len)
    start = time.perf_counter()
    x = to_input(list(crops), int(contract.size), contract.mean, contract.std)
    clips, starts = make_clips(x, t, t)
    rate, samples = int(contract.sample_rate), int(contract.num_samples)
    sound = np.stack([centred_window(wave, (s + t / 2) / fps * rate, samples) for s in starts])
    with torch.inference_mode():
        for s in range(0, len(clips), batch):
            model({"clip": torch.from_numpy(clips[s : s + batch]), "audio": torch.from_numpy(sound[s : s + batch])})
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from dfdet.data.audio.io import extract_audio_track

    with tempfile.TemporaryDirectory() as tmp:
        silent, video = Path(tmp) / "silent.mp4", Path(tmp) / "talk.mp4"
        source = make_video(silent)
        _with_sound(silent, video)
        start = time.perf_counter()
        with av.open(str(video)) as container:
            n_frames = sum(1 for _ in container.decode(video=0))
        wave = extract_audio_track(video, 16000)
        decode = time.perf_counter() - start
        with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
            cfg = compose(
                "predict", ["input=unused", "model_path=unused", f"predictor.faces.frames_per_video={n_frames}"]
            )
        faces = instantiate(cfg.predictor.faces)
        faces(video)  # warm-up: MTCNN is built on first use
        start = time.perf_counter()
        found = faces(video)
        face_s = time.perf_counter() - start
    crops = np.stack(found.crops)
    stages = {"decode": decode, "faces": face_s}
    for name in ("syncnet", "av_joint"):
        model = _model(name)
        _windows(model, crops[:16], wave, FPS)  # warm-up
        stages[name] = _windows(model, crops, wave, FPS)
    per_minute = {k: v * 60.0 / SECONDS for k, v in stages.items()}
    result = {
        "video": f"{SECONDS} s, 1280x720, {FPS} fps, {n_frames} frames, {len(found.crops)} face crops",
        "frames_from": source,
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, torch threads "
        f"{args.threads}",
        "seconds_per_10s": {k: round(v, 3) for k, v in stages.items()},
        "seconds_per_minute": {k: round(v, 2) for k, v in per_minute.items()},
    }
    for name in ("syncnet", "av_joint"):
        total = per_minute["decode"] + per_minute["faces"] + per_minute[name]
        result[f"{name}_total_seconds_per_minute"] = round(total, 2)
        result[f"{name}_x_realtime"] = round(60.0 / total, 3)
        result[f"{name}_share_of_total"] = round(per_minute[name] / total, 3)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
