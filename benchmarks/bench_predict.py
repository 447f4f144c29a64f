"""End-to-end prediction time of a 10-second 720p video: decode, sample, detect, track, crop, score.

The video is made from the real talking-head clips of ``../shared/data/video`` (each scaled to 720 px high and
centred on a 1280 x 720 black canvas, 25 fps, H.264), or, when that folder is absent, from the moving astronaut face
of ``dfdet.testing.media``. The model is the ``small`` preset (timm ``test_resnet``, 96 px), built untrained
(speed does not depend on the weights) and exported to ONNX in a temporary folder; ``--model PATH`` times an
exported model or a checkpoint of yours instead.

The predictor is the one of conf/predict.yaml (32 sampled frames, MTCNN on 320-px copies of every 2nd sampled frame).
Reported: the cold first call (MTCNN built on first use), then the median and best of ``--repeats`` warm calls, and
the share of the face pipeline (decode + detection + crops) in a warm call.

Usage: ``uv run python benchmarks/bench_predict.py [--model PATH] [--repeats 5] [--frames 32] [--json out.json]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import OmegaConf

ROOT = Path(__file__).resolve().parents[1]
CLIPS = ROOT.parent / "shared" / "data" / "video"
SIZE, FPS, SECONDS = (1280, 720), 25, 10


def _letterbox(frame: np.ndarray) -> np.ndarray:
    """Scales a frame to 720 px high (at most 1280 wide) and centres it on a black 1280 x 720 canvas."""
    width, height = SIZE
    scale = min(height / frame.shape[0], width / frame.shape[1])
    resized = cv2.resize(frame, (round(frame.shape[1] * scale), round(frame.shape[0] * scale)), cv2.INTER_LINEAR)
    canvas = np.zeros((height, width, 3), np.uint8)
    y0, x0 = (height - resized.shape[0]) // 2, (width - resized.shape[1]) // 2
    canvas[y0 : y0 + resized.shape[0], x0 : x0 + resized.shape[1]] = resized
    return canvas


def _source_frames(count: int) -> tuple[list[np.ndarray], str]:
    """``count`` RGB frames from the shared clips (played one after the other), or generated ones."""
    frames: list[np.ndarray] = []
    clips = sorted(CLIPS.glob("WDA_*.mp4")) if CLIPS.is_dir() else []
    for clip in clips:
        with av.open(str(clip)) as container:
            for frame in container.decode(video=0):
                frames.append(frame.to_ndarray(format="rgb24"))
                if len(frames) == count:
                    return frames, ", ".join(c.name for c in clips)
    from dfdet.testing.media import face_frames

    return face_frames(count, size=SIZE), "generated (dfdet.testing.media.face_frames)"


def make_video(path: Path) -> str:
    """Writes the 10 s 1280 x 720 H.264 test video; returns where its frames come from."""
    frames, source = _source_frames(FPS * SECONDS)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height = SIZE
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "23", "preset": "veryfast"}
        for frame in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(_letterbox(frame), format="rgb24")))
        container.mux(stream.encode(None))
    return source


def export_small(folder: Path) -> Path:
    """The untrained ``small`` preset exported to ONNX (no verification)."""
    from hydra import compose, initialize_config_dir

    from dfdet.export import ExportOptions, export_detector

    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("train", overrides=["model=small", "model.net.pretrained=false", "trainer.max_epochs=1"])
    model = instantiate(cfg.model).eval()
    config = OmegaConf.to_container(cfg, resolve=False)
    options = ExportOptions(formats=("onnx",), verify=False, speed_batch_size=None)
    export_detector(model, config, folder, "small", options)  # type: ignore[arg-type]
    return folder / "small.onnx"


def build_predictor(model_path: Path, frames: int):  # noqa: ANN201 - a dfdet.predict.Predictor
    with initialize_config_dir(str(ROOT / "conf"), version_base="1.3"):
        cfg = compose("predict", ["input=unused", f"predictor.faces.frames_per_video={frames}"])
    cfg.model_path = str(model_path)  # set after composing: a path is not parsed as an override value
    cfg.threads = None
    return instantiate(cfg.predictor)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="an exported .onnx or a .ckpt (default: untrained small preset)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--frames", type=int, default=32, help="frames sampled per video")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="dfdet-bench-") as tmp:
        video = Path(tmp) / "video_720p_10s.mp4"
        source = make_video(video)
        model_path = args.model or export_small(Path(tmp))
        predictor = build_predictor(model_path, args.frames)
        start = time.perf_counter()
        first = predictor.predict(video).result
        cold = time.perf_counter() - start
        if "error" in first:
            raise SystemExit(f"prediction failed: {first['error']}")
        warm, faces = [], []
        for _ in range(args.repeats):
            start = time.perf_counter()
            predictor.predict(video)
            warm.append(time.perf_counter() - start)
            start = time.perf_counter()
            predictor.faces(video)
            faces.append(time.perf_counter() - start)
    figures = {
        "video": f"{SIZE[0]}x{SIZE[1]}, {SECONDS} s, {FPS} fps, H.264; frames from {source}",
        "model": f"{predictor.info.name} ({predictor.info.format}, {predictor.info.backbone}, "
        f"{predictor.info.input_size} px)",
        "frames_sampled": first["frames_sampled"],
        "frames_scored": len(first["frames"]),
        "cold_s": round(cold, 3),
        "warm_median_s": round(statistics.median(warm), 3),
        "warm_best_s": round(min(warm), 3),
        "face_pipeline_median_s": round(statistics.median(faces), 3),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"torch threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f}",
    }
    for key, value in figures.items():
        print(f"{key:>24}: {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
