"""Cost of the training-free sync measure per minute of 720p video on CPU, by stage, in one run.

A 720p (1280 x 720, 25 fps) talking face with sound is generated (:func:`dfdet.testing.media.write_talking_face`: a
real face photo whose mouth opens with a synthetic voice), or ``--video`` names a file. The measure
(:class:`dfdet.sync.SyncMeasure`, the defaults of ``conf/predict.yaml``) runs once, each stage timed:

- ``decode``: decoding every frame once with PyAV (the floor of any frame-level method; the measure decodes twice);
- ``track``: first pass, face detection (MTCNN) every ``detect_every_s`` and tracking;
- ``mouth``: second pass, face crops and lip aperture (dlib 68 points) plus the mouth-region reading;
- ``sound``: the sound track's decoding, the speech envelope and the windowed cross-correlation (a ``--video`` whose
  streams start at different times is measured here as if they started together; the stage costs the same).

    uv run python benchmarks/bench_sync.py [--seconds 20] [--video FILE] [--detect-every 0.5]

Prints one JSON line: seconds per minute of video per stage and in total, and the real-time factor (video seconds
per second of measuring).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import av


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the generated video")
    parser.add_argument("--video", type=Path, default=None, help="measure this file instead")
    parser.add_argument("--detect-every", type=float, default=0.5, help="seconds between detected frames")
    args = parser.parse_args()

    from dfdet.data.audio.io import extract_audio_track
    from dfdet.sync import SyncMeasure
    from dfdet.sync.video import Observation
    from dfdet.testing.media import write_talking_face

    with tempfile.TemporaryDirectory() as tmp:
        path = args.video
        if path is None:
            path, _ = write_talking_face(Path(tmp) / "talk720p.mp4", args.seconds, 25, (1280, 720), seed=1)
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            width, height = stream.width, stream.height
        measure = SyncMeasure(detect_every_s=args.detect_every)
        times = {}
        start = time.perf_counter()
        with av.open(str(path)) as container:
            container.streams.video[0].thread_type = "AUTO"
            frames = sum(1 for _ in container.decode(video=0))
        times["decode"] = time.perf_counter() - start
        start = time.perf_counter()
        track, fps, _, count = measure.track(path)
        times["track"] = time.perf_counter() - start
        start = time.perf_counter()
        readings = measure.mouth(path, track)
        times["mouth"] = time.perf_counter() - start
        start = time.perf_counter()
        wave = extract_audio_track(path, 16000)  # both streams start at 0 in the generated file
        report = measure.estimate(Observation(fps, count, readings, wave))
        times["sound"] = time.perf_counter() - start
    minutes = frames / fps / 60
    per_minute = {k: round(v / minutes, 2) for k, v in times.items()}
    total = times["track"] + times["mouth"] + times["sound"]
    print(json.dumps({
        "video": str(args.video or f"generated talking face, {args.seconds:g} s"), "resolution": f"{width}x{height}",
        "fps": fps, "frames": frames, "seconds_per_video_minute": per_minute,
        "total_seconds_per_video_minute": round(total / minutes, 2),
        "real_time_factor": round(frames / fps / total, 2), "mouth": report.mouth,
        "offset_frames": report.offset_frames, "confidence": report.confidence,
        "detect_every_s": args.detect_every, "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
    }))  # fmt: skip


if __name__ == "__main__":
    main()
