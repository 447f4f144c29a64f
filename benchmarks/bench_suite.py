"""What a detector suite costs over its models, and what reading content credentials costs, measured in one run.

Models: untrained tiny ones (speed does not depend on the weights), made in a temporary folder as the tests make
them: a face model (``model=tiny``, checkpoint), a whole-image model (``model=image_small`` at 32 px, a grid of 4
crops, ONNX) and a voice model (LCNN, half-second windows, checkpoint). Files: a real photo, a real talking-head
video with sound and real speech from ``../shared/data`` (generated ones when it is absent), the photo C2PA-signed
here. For each file: the suite of the three (rule ``strongest``, credentials read) against the sum of the models that
apply scored one by one, in ``--repeats`` interleaved rounds after a warm-up (medians); and the time of
:class:`ContentCredentials.read` on the signed and the unsigned photo.

Usage: ``uv run python benchmarks/bench_suite.py [--repeats 5] [--frames 8]``
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import OmegaConf

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


def untrained(folder: Path, name: str, *overrides: str) -> Path:
    """A train.py-layout checkpoint of an untrained model of ``conf/train`` with ``overrides``."""
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("train", [f"paths.output_dir={folder}", *overrides])
    stored = {"version": "bench", "config": OmegaConf.to_container(cfg, resolve=True)}
    path = folder / f"{name}.ckpt"
    torch.save({"state_dict": instantiate(cfg.model).state_dict(), "dfdet": stored}, path)
    return path


def files(folder: Path) -> dict[str, Path]:
    """A photo, its C2PA-signed copy, a talking-head video with sound and speech (real when ../shared is there)."""
    from dfdet.testing.credentials import make_chain, sign
    from dfdet.testing.media import face_frames, write_video

    out: dict[str, Path] = {}
    if SHARED.is_dir():
        out["photo"] = SHARED / "faces" / "face_recognition" / "obama-480p.jpg"
        out["video"] = SHARED / "video" / "WDA_KatieHill_000.mp4"
        out["speech"] = SHARED / "audio" / "RD_Radio31_000.wav"
    else:
        import soundfile as sf
        from PIL import Image

        voice = (0.2 * np.sin(2 * np.pi * 140 * np.arange(48000) / 16000)).astype(np.float32)
        out["photo"] = folder / "photo.jpg"
        Image.fromarray(face_frames(1, size=(640, 480))[0]).save(out["photo"])
        out["video"] = write_video(folder / "talk.mp4", face_frames(75, size=(320, 240)), 25, voice)
        out["speech"] = folder / "speech.wav"
        sf.write(out["speech"], voice, 16000)
    out["signed photo"] = folder / "signed.jpg"
    out["signed photo"].write_bytes(sign(out["photo"].read_bytes(), "image/jpeg", make_chain()))
    return out


def median_time(fn: Any, repeats: int) -> float:
    fn()  # warm
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved(suite: Any, models: list[Any], path: Path) -> tuple[float, float]:
    """One round: the suite's time on ``path``, then the sum of its models' times alone (so that a change of the
    machine's load hits both)."""
    start = time.perf_counter()
    suite.predict(path)
    whole = time.perf_counter() - start
    parts = 0.0
    for model in models:
        start = time.perf_counter()
        model.predict(path)
        parts += time.perf_counter() - start
    return whole, parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--frames", type=int, default=8)
    args = parser.parse_args()
    from dfdet.predict import Predictor, load_model
    from dfdet.predict.credentials import ContentCredentials
    from dfdet.predict.suite import ROLES, Member, Suite
    from dfdet.tasks.export import export

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        face_ckpt = untrained(folder, "face", "model=tiny")
        voice_ckpt = untrained(folder, "voice", "data=synthetic_audio", "model=lcnn", "model.input.num_samples=8000")
        image_ckpt = untrained(folder, "image", "model=image_small", "model.input.size=32", "model.input.crop=grid",
                               "model.input.crops=4")  # fmt: skip
        with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
            export(compose("export", [f"ckpt_path={image_ckpt}", f"output_dir={folder}", "speed=null"]))
            cfg = compose("predict", ["model_path=x", "input=x", f"predictor.faces.frames_per_video={args.frames}"])
        faces = instantiate(cfg.predictor.faces)
        singles = {
            "face": Predictor(load_model(face_ckpt), faces),
            "image": Predictor(load_model(folder / "image.onnx"), faces),
            "voice": Predictor(load_model(voice_ckpt), faces),
        }
        credentials = ContentCredentials()
        suite = Suite([Member(n, ROLES[n], p) for n, p in singles.items()], credentials=credentials)
        media = files(folder)
        print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch threads "
              f"{torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f}; {args.frames} frames; median of "
              f"{args.repeats} warm calls")  # fmt: skip
        print("| file | models sent | suite | sum of the models alone | suite / sum (median of the rounds) |")
        print("|---|---|---|---|---|")
        for name, path in media.items():
            routed = [n for n, m in suite.predict(path).result["models"].items() if m["routed"]]
            rounds = [interleaved(suite, [singles[n] for n in routed], path) for _ in range(args.repeats)]
            whole, parts = (statistics.median(r[i] for r in rounds) for i in (0, 1))
            ratio = statistics.median(r[0] / r[1] for r in rounds)
            print(f"| {name} | {', '.join(routed)} | {whole:.3f} s | {parts:.3f} s | {ratio:.2f} |")
        for name in ("photo", "signed photo"):
            t = median_time(lambda n=name: credentials.read(media[n], "image/jpeg"), args.repeats)
            print(f"content credentials of the {name}: {1000 * t:.1f} ms")
        print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
