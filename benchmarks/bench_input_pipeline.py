"""Input-pipeline throughput per worker: JPEG decode, the augmentation preset, on-the-fly fake synthesis.

    uv run python benchmarks/bench_input_pipeline.py                       # 224² and 380², heavy preset
    uv run python benchmarks/bench_input_pipeline.py --sizes 224 --seconds 3

Face crops come from the built-in synthetic generator (JPEG, written to a temporary folder at each size). Each stage
combination runs in this single process with OpenCV and torch limited to one thread, so the figures are crops/s per
core, i.e. per DataLoader worker. Stages: ``decode`` (``dfdet.data.datasets.load_rgb``, PIL, as the datasets do;
``decode_cv2`` for comparison), ``augment`` (``build_train_transform(preset, size, ...)``: preset, resize, normalise,
to tensor), ``sbi`` (:func:`dfdet.transforms.synthesis.self_blend` with the crop's 5-point landmarks) and ``xray``
(:func:`dfdet.transforms.synthesis.blend_pair` with another crop as the source). Throughput on a machine shared
with other jobs varies; the best of ``--repeats`` rounds is reported, per CPU second of the process (the per-core
figure, robust to contention) and per wall-clock second.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch

from dfdet.data.datasets import load_rgb
from dfdet.data.synthetic import SyntheticSpec, generate
from dfdet.transforms import build_train_transform
from dfdet.transforms.synthesis import blend_pair, self_blend

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def cpu_name() -> str:
    """The ``lscpu`` model name (falls back to ``platform.processor()``)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        return next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name"))
    except (OSError, subprocess.CalledProcessError, StopIteration):
        return platform.processor() or "unknown CPU"


def make_crops(size: int, folder: Path) -> tuple[list[str], list[np.ndarray]]:
    """Synthetic JPEG face crops at ``size``² in ``folder``: their paths and (5, 2) landmarks."""
    spec = SyntheticSpec(image_size=size, identities=(3, 2, 2), videos_per_identity=1, frames_per_video=4)
    manifest = generate(spec, folder / f"crops{size}")
    real = manifest[manifest["label"] == 0]
    paths = [str(folder / f"crops{size}" / p) for p in real["path"]]
    return paths, [np.asarray(lm, np.float32).reshape(5, 2) for lm in real["landmarks"]]


def rate(step: Callable[[int], object], seconds: float, repeats: int) -> tuple[float, float]:
    """Best-of-``repeats`` calls of ``step(i)`` per CPU second of this process and per wall-clock second.

    Each round runs for about ``seconds`` of wall time. With one thread, calls per CPU second are crops/s per core
    and hardly depend on other jobs sharing the machine; calls per wall second drop when the core is shared.
    """
    for i in range(3):
        step(i)
    best_cpu = best_wall = 0.0
    for _ in range(repeats):
        n, cpu, wall = 0, time.process_time(), time.perf_counter()
        while time.perf_counter() - wall < seconds:
            step(n)
            n += 1
        best_cpu = max(best_cpu, n / max(time.process_time() - cpu, 1e-9))
        best_wall = max(best_wall, n / (time.perf_counter() - wall))
    return best_cpu, best_wall


def stages(paths: list[str], landmarks: list[np.ndarray], size: int, preset: str) -> dict[str, Callable[[int], object]]:
    """The stage combinations, each a function of the sample counter."""
    augment = build_train_transform(preset, size, MEAN, STD, seed=0)
    rng = np.random.default_rng(0)
    blobs = [Path(p).read_bytes() for p in paths]
    images = [load_rgb(p) for p in paths]
    k = len(paths)

    def decode_cv2(i: int) -> np.ndarray:
        buf = np.frombuffer(blobs[i % k], np.uint8)
        return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)

    def sbi(i: int) -> np.ndarray:
        return self_blend(images[i % k], landmarks[i % k], rng).fake

    return {
        "decode": lambda i: load_rgb(paths[i % k]),
        "decode_cv2": decode_cv2,
        "sbi": sbi,
        "xray": lambda i: blend_pair(images[i % k], landmarks[i % k], images[(i + 1) % k], landmarks[(i + 1) % k], rng),
        f"augment[{preset}]": lambda i: augment(images[i % k]),
        f"sbi+augment[{preset}]": lambda i: augment(sbi(i)),
        f"decode+augment[{preset}]": lambda i: augment(load_rgb(paths[i % k])),
        "decode+sbi": lambda i: self_blend(load_rgb(paths[i % k]), landmarks[i % k], rng),
        f"decode+sbi+augment[{preset}]": lambda i: augment(
            self_blend(load_rgb(paths[i % k]), landmarks[i % k], rng).fake
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[224, 380])
    parser.add_argument("--preset", default="heavy")
    parser.add_argument("--seconds", type=float, default=2.0, help="duration of one measurement round")
    parser.add_argument("--repeats", type=int, default=3, help="rounds per stage; the best is reported")
    parser.add_argument("--only", nargs="*", default=None, help="stage names to run (default: all)")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    print(f"CPU: {cpu_name()}; one process, OpenCV and torch on 1 thread; best of {args.repeats} x {args.seconds}s")
    print(f"load average before: {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            paths, landmarks = make_crops(size, Path(tmp))
            print(f"\n{size}x{size} ({len(paths)} distinct real crops)")
            print(f"  {'stage':<34}{'crops/CPU-s':>12}{'CPU ms/crop':>12}{'crops/wall-s':>13}")
            for name, step in stages(paths, landmarks, size, args.preset).items():
                if args.only and name not in args.only:
                    continue
                per_cpu_s, per_wall_s = rate(step, args.seconds, args.repeats)
                print(f"  {name:<34}{per_cpu_s:>12.0f}{1000 / per_cpu_s:>12.2f}{per_wall_s:>13.0f}", flush=True)


if __name__ == "__main__":
    main()
