"""Face preprocessing speed and recall: dfdet's pipeline against a plain per-frame ``MTCNN.detect`` loop.

Both read the same uniformly sampled frames of the same real clips (``../shared/data/video`` by default). The
baseline runs facenet-pytorch's MTCNN with its defaults (full resolution, ``min_face_size=20``) on every sampled
frame, one call per frame, with torch using every core. dfdet's pipeline (conf/preprocess.yaml defaults: frames
downscaled to 320 px, ``min_face_size=40``, detection on every 2nd sampled frame in one batch, IoU tracking with
interpolation, cropping) runs (a) in one process with one torch thread, and (b) in a warm pool of worker processes
(one thread each), as ``preprocess.py`` runs it. Writing the JPEG crops is not timed.

Timings are the best of ``--repeats`` interleaved rounds (the machine may be shared). Recall:

- ``any face``: fraction of sampled frames with at least one detection (baseline per frame; dfdet's detector run on
  every sampled frame, at its downscaled size);
- ``kept face``: fraction of sampled frames that get a crop after keeping one face track per video (for the
  baseline, the same tracker over its per-frame detections; multi-shot clips lose the frames of other people);
- ``IoU``: agreement of dfdet's kept boxes with the baseline's kept boxes on frames where both have one.

Usage: ``uv run python benchmarks/bench_preprocess.py [--clips DIR] [--frames 32] [--repeats 3] [--workers 2]``
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from dfdet.faces import Detections, box_iou
from dfdet.preprocess.pipeline import VideoPreprocessor
from dfdet.preprocess.video import VIDEO_EXTENSIONS, read_media

ROOT = Path(__file__).resolve().parents[1]


def build_preprocessor(frames: int) -> VideoPreprocessor:
    """The preprocessor exactly as conf/preprocess.yaml configures it."""
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("preprocess", ["data=folder", f"data.frames_per_video={frames}"])
    return instantiate(cfg.preprocessor)


def baseline(paths: list[Path], frames: int, mtcnn: object) -> dict[str, list]:
    """Plain loop: for each sampled frame, ``mtcnn.detect(frame)``."""
    out: dict[str, list] = {}
    for path in paths:
        _, images, _ = read_media(path, frames)
        dets = []
        for image in images:
            boxes, probs, points = mtcnn.detect(image, landmarks=True)  # type: ignore[attr-defined]
            if boxes is None:
                dets.append(Detections.empty())
            else:
                dets.append(Detections(boxes.astype(np.float32), probs.astype(np.float32), points.astype(np.float32)))
        out[path.name] = dets
    return out


_WORKER: dict[str, VideoPreprocessor] = {}


def _init(frames: int) -> None:
    torch.set_num_threads(1)
    _WORKER["p"] = build_preprocessor(frames)


def _run(path: str) -> int:
    return len(_WORKER["p"](path).crops)


def clock(fn) -> tuple[float, float]:  # noqa: ANN001
    """Wall and process-CPU seconds of ``fn()``."""
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clips", type=Path, default=ROOT.parent / "shared" / "data" / "video")
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    paths = sorted(p for p in args.clips.glob("*") if p.suffix.lower() in VIDEO_EXTENSIONS)
    if not paths:
        raise SystemExit(f"no videos in {args.clips}")
    from facenet_pytorch import MTCNN

    mtcnn = MTCNN(keep_all=True, device="cpu")
    ours = build_preprocessor(args.frames)
    threads = torch.get_num_threads()
    baseline(paths[:1], 2, mtcnn)  # warm-up
    [ours(p) for p in paths]
    times: dict[str, list[tuple[float, float]]] = {"base": [], "base1": [], "ours": [], "pool": []}
    results: dict = {}
    with ProcessPoolExecutor(args.workers, mp.get_context("spawn"), _init, (args.frames,)) as pool:
        list(pool.map(_run, [str(p) for p in paths] * args.workers))  # start and warm every worker
        for _ in range(args.repeats):  # interleaved, so load from other users hits all alike
            torch.set_num_threads(threads)
            times["base"].append(clock(lambda: results.update(base=baseline(paths, args.frames, mtcnn))))
            torch.set_num_threads(1)
            times["base1"].append(clock(lambda: baseline(paths, args.frames, mtcnn)))
            times["ours"].append(clock(lambda: results.update(ours={p.name: ours(p) for p in paths})))
            times["pool"].append(clock(lambda: list(pool.map(_run, [str(p) for p in paths]))))
    torch.set_num_threads(threads)
    best = {k: min(t[0] for t in v) for k, v in times.items()}
    cpu = {k: min(t[1] for t in v) for k, v in times.items()}
    report(paths, args, results, ours, best, cpu, threads)


def report(paths, args, results, ours, best, cpu, threads) -> None:  # noqa: ANN001
    """Prints per-clip recall and the timing ratios."""
    total = {"frames": 0, "base_any": 0, "ours_any": 0, "base_kept": 0, "ours_kept": 0}
    ious = []
    print(f"{'clip':36s} frames | any face: base ours | kept face: base ours | IoU(kept)")
    for path in paths:
        base, mine = results["base"][path.name], results["ours"][path.name]
        indices, images, _ = read_media(path, args.frames)
        position = {int(i): k for k, i in enumerate(indices)}
        kept = ours.tracker(base)
        counts = (
            len(base),
            sum(len(d) > 0 for d in base),
            sum(len(d) > 0 for d in ours.detector.detect(images)),
            int(kept.valid.sum()),
            len(mine.crops),
        )
        clip_iou = [
            float(box_iou(kept.boxes[position[int(f)]][None], b[None])[0, 0])
            for f, b in zip(mine.frame_indices, mine.boxes, strict=True)
            if kept.valid[position[int(f)]]
        ]
        ious += clip_iou
        for key, value in zip(total, counts, strict=True):
            total[key] += value
        print(
            f"{path.name:36s} {counts[0]:6d} | {counts[1]:14d} {counts[2]:4d} | {counts[3]:15d} {counts[4]:4d} | "
            f"{np.mean(clip_iou) if clip_iou else float('nan'):.3f}"
        )
    n = total["frames"]
    print(
        f"{'all (fraction of frames)':36s} {n:6d} | {total['base_any'] / n:14.3f} {total['ours_any'] / n:4.2f} | "
        f"{total['base_kept'] / n:15.3f} {total['ours_kept'] / n:4.2f} | {np.mean(ious):.3f} "
        f"(IoU >= 0.5 on {np.mean(np.array(ious) >= 0.5):.0%} of frames)"
    )
    print(f"\nmachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}")
    print(f"{len(paths)} clips x {args.frames} sampled frames, best of {args.repeats} interleaved rounds")
    print(f"baseline per-frame MTCNN.detect, {threads} threads: {best['base']:6.2f} s wall, {cpu['base']:6.2f} s CPU")
    print(f"baseline per-frame MTCNN.detect, 1 thread:  {best['base1']:6.2f} s wall, {cpu['base1']:6.2f} s CPU")
    print(f"dfdet pipeline, 1 process x 1 thread:       {best['ours']:6.2f} s wall, {cpu['ours']:6.2f} s CPU")
    print(f"dfdet pipeline, {args.workers} workers x 1 thread:       {best['pool']:6.2f} s wall")
    base = min(best["base"], best["base1"])  # the faster baseline setting
    print(
        f"speed-up over the faster baseline: {base / best['ours']:.1f}x (1 process), {base / best['pool']:.1f}x "
        f"({args.workers} workers); CPU time {min(cpu['base'], cpu['base1']) / cpu['ours']:.1f}x"
    )


if __name__ == "__main__":
    main()
