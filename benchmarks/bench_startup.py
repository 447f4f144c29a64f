"""Cold start of prediction: ``python predict.py model=x.onnx input=photo.jpg``, from process start to its JSON.

Each repetition is a fresh interpreter (nothing imported in this parent process, which only starts children), so
every run pays the imports, the config composition, the ONNX session, the MTCNN weights and one detection and
scoring, as a user's first command does. The photo is a real 1280 x 720 one: ``obama-720p.jpg`` of
``../shared/data/faces/face_recognition`` (or any photo there, letterboxed to 1280 x 720), else a generated face
(``dfdet.testing.media``). The model is the untrained ``small`` preset (timm ``test_resnet``, 96 px) exported to
ONNX in a temporary folder by a child process; ``--model PATH`` times an exported model of yours instead.

Reported: the wall time to the JSON line on stdout and to the exit of each run, their median and best, the ratio
of the median to the 5-s target, and for reference the time a bare ``python -c "import torch"`` takes on this
machine (MTCNN runs on torch: the floor of this path). Machines shared with other work are noisy: the load average
is printed with the figures.

Usage: ``uv run python benchmarks/bench_startup.py [--model PATH] [--photo PATH] [--repeats 5] [--json out.json]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = ROOT.parent / "shared" / "data" / "faces" / "face_recognition"
SIZE = (1280, 720)
TARGET_S = 5.0

EXPORT = """
import sys
from pathlib import Path
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import OmegaConf
from dfdet.export import ExportOptions, export_detector
with initialize_config_dir(sys.argv[1], version_base="1.3"):
    cfg = compose("train", overrides=["model=small", "model.net.pretrained=false", "trainer.max_epochs=1"])
options = ExportOptions(formats=("onnx",), verify=False, speed_batch_size=None)
export_detector(instantiate(cfg.model).eval(), OmegaConf.to_container(cfg), Path(sys.argv[2]), "small", options)
"""

PHOTO = """
import sys
from pathlib import Path
import numpy as np
from PIL import Image
source, out = sys.argv[1], Path(sys.argv[2])
width, height = 1280, 720
if source:
    image = Image.open(source).convert("RGB")
    if image.size != (width, height):  # letterbox: scaled to fit, centred on black
        scale = min(width / image.width, height / image.height)
        image = image.resize((round(image.width * scale), round(image.height * scale)), Image.BILINEAR)
        canvas = Image.new("RGB", (width, height))
        canvas.paste(image, ((width - image.width) // 2, (height - image.height) // 2))
        image = canvas
else:
    from dfdet.testing.media import face_frames
    image = Image.fromarray(face_frames(1, size=(width, height))[0])
image.save(out, quality=92)
"""


def child(code: str, *args: str) -> None:
    """Runs ``code`` in a fresh interpreter (this process stays free of dfdet, torch and Hydra imports)."""
    subprocess.run([sys.executable, "-c", code, *args], check=True, cwd=ROOT)


def source_photo(photo: Path | None) -> str:
    """The photo to letterbox ('' for a generated face)."""
    if photo is not None:
        return str(photo)
    if (PHOTOS / "obama-720p.jpg").is_file():
        return str(PHOTOS / "obama-720p.jpg")
    found = sorted(PHOTOS.glob("*.jpg")) if PHOTOS.is_dir() else []
    return str(found[0]) if found else ""


def time_run(model: Path, photo: Path, run_dir: Path) -> tuple[float, float, dict]:
    """One cold ``predict.py`` run: (seconds to the JSON line, seconds to exit, the JSON)."""
    cmd = [sys.executable, str(ROOT / "predict.py"), f"model={model}", f"input={photo}", f"hydra.run.dir={run_dir}"]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=run_dir.parent)
    assert proc.stdout is not None
    result, to_json = None, float("nan")
    for line in proc.stdout:
        if line.startswith("{"):
            to_json, result = time.perf_counter() - start, json.loads(line)
    _, err = proc.communicate()
    to_exit = time.perf_counter() - start
    if proc.returncode != 0 or result is None:
        raise SystemExit(f"predict.py failed (exit code {proc.returncode}):\n{err[-3000:]}")
    return to_json, to_exit, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="an exported .onnx (default: the untrained small preset)")
    parser.add_argument("--photo", type=Path, help="a photo, letterboxed to 1280 x 720 (default: see above)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="dfdet-startup-") as tmp_name:
        tmp = Path(tmp_name)
        model = args.model or tmp / "small.onnx"
        if args.model is None:
            child(EXPORT, str(ROOT / "conf"), str(tmp))
        source = source_photo(args.photo)
        child(PHOTO, source, str(tmp / "photo.jpg"))
        load_before = os.getloadavg()[0]
        runs = [time_run(model, tmp / "photo.jpg", tmp / f"run{i}") for i in range(args.repeats)]
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import torch"], check=True)
        torch_s = time.perf_counter() - start
    to_json = [r[0] for r in runs]
    result = runs[-1][2]
    figures = {
        "photo": f"{SIZE[0]}x{SIZE[1]} JPEG from {source or 'dfdet.testing.media.face_frames'}",
        "model": f"{result['model']['name']} (onnx)" if isinstance(result.get("model"), dict) else str(model),
        "fake_probability": result.get("fake_probability"),
        "to_json_s": [round(t, 2) for t in to_json],
        "to_exit_s": [round(r[1], 2) for r in runs],
        "to_json_median_s": round(statistics.median(to_json), 2),
        "to_json_best_s": round(min(to_json), 2),
        "median_over_target": round(statistics.median(to_json) / TARGET_S, 2),
        "import_torch_s": round(torch_s, 2),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after",
    }
    for key, value in figures.items():
        print(f"{key:>20}: {value}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
