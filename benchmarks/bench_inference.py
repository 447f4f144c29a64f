"""Inference speed on this machine: eager PyTorch vs onnxruntime vs TorchScript, in images per second.

Each preset (``model=small``, ``model=xception``, ``model=efficientnet_b4``) is built untrained through Hydra's compose
of conf/train.yaml with ``model.net.pretrained=false`` (speed does not depend on the weights), exported with
:mod:`dfdet.export` into a temporary folder and timed on random inputs at each batch size: after warm-up, the
fastest run counts, as ``timeit`` advises. The default run takes a few minutes on an idle 2-core CPU.

    uv run python benchmarks/bench_inference.py [--models small xception] [--batch-sizes 1 32] [--seconds 2]

Whole-image models score crops of the size their contract names; ``--sizes`` times them at other input sizes, e.g.
``--models npr --sizes 512 1024 --batch-sizes 1`` (AI-generated image detection at 512² and 1024²).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from rich.console import Console
from rich.table import Table

from dfdet.export import (
    LogitNet,
    eager_runner,
    export_onnx,
    export_torchscript,
    load_onnx,
    load_torchscript,
    make_inputs,
    max_abs_diff,
)

CONF = Path(__file__).resolve().parents[1] / "conf"
RUNTIMES = ("eager", "onnxruntime", "torchscript")
WARMUP = {"eager": 1, "onnxruntime": 1, "torchscript": 2}  # TorchScript optimises its graph during two calls


def cpu_name() -> str:
    """The CPU model from ``lscpu`` (falls back to ``platform.processor()``)."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        out = ""
    names = [line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name")]
    return names[0] if names else platform.processor() or "unknown CPU"


def time_runner(runner: Any, x: torch.Tensor, seconds: float, min_runs: int, warmup: int) -> tuple[float, float]:
    """Best wall-clock and best process-CPU seconds of one call, after ``warmup`` calls: at least ``min_runs`` runs,
    more while ``seconds`` last. With one thread the CPU time hardly depends on other load on the machine."""
    for _ in range(warmup):
        runner(x)
    wall = cpu = float("inf")
    runs, start = 0, time.perf_counter()
    while runs < min_runs or time.perf_counter() - start < seconds:
        wall0, cpu0 = time.perf_counter(), time.process_time()
        runner(x)
        wall, cpu = min(wall, time.perf_counter() - wall0), min(cpu, time.process_time() - cpu0)
        runs += 1
    return wall, cpu


def build_preset(preset: str, size: int | None = None) -> tuple[Any, str]:
    """The untrained detector of ``model=<preset>`` (eval mode, input side ``size`` when given) and its backbone."""
    overrides = [f"model={preset}"]
    with initialize_config_dir(str(CONF), version_base="1.3"):
        base = compose("train", overrides=overrides)
        if "pretrained" in base.model.net:
            overrides.append("model.net.pretrained=false")
        if size is not None:
            overrides.append(f"model.input.size={size}")
        cfg = compose("train", overrides=overrides)
    backbone = cfg.model.net.get("name") or str(cfg.model.net._target_).rsplit(".", 1)[-1]
    return instantiate(cfg.model).eval(), backbone


def bench_preset(
    preset: str, batch_sizes: list[int], seconds: float, min_runs: int, folder: Path, size: int | None = None
) -> list[dict]:
    """Exports one preset (at input side ``size`` when given) and times every runtime at every batch size."""
    model, backbone = build_preset(preset, size)
    spec = model.contract
    rng = np.random.default_rng(0)
    module = LogitNet(model.net).eval()
    example = make_inputs(spec, 2, "normal", rng)
    export_onnx(module, example, folder / f"{preset}.onnx", {}, opset=17)
    export_torchscript(module, example, folder / f"{preset}.torchscript", {})
    runners = {
        "eager": eager_runner(model),
        "onnxruntime": load_onnx(folder / f"{preset}.onnx", threads=torch.get_num_threads()),
        "torchscript": load_torchscript(folder / f"{preset}.torchscript"),
    }
    rows = []
    for batch in batch_sizes:
        x = make_inputs(spec, batch, "normal", rng)
        reference = runners["eager"](x)
        row: dict[str, Any] = {"model": preset, "backbone": backbone, "input": spec.size, "batch": batch}
        for name, runner in runners.items():
            wall, cpu = time_runner(runner, x, seconds, min_runs, WARMUP[name])
            row[f"{name}_img_s"], row[f"{name}_img_cpu_s"] = batch / wall, batch / cpu
            if name != "eager":
                row[f"{name}_max_abs_diff"] = max_abs_diff(reference, runner(x))
        rows.append(row)
        print(
            f"{preset} {spec.size}px batch {batch}: "
            + ", ".join(f"{n} {row[f'{n}_img_s']:.2f} img/s" for n in RUNTIMES)
        )
    return rows


def table(rows: list[dict], unit: str, title: str) -> Table:
    """Images per ``unit`` (``s``: wall clock, ``cpu_s``: process CPU time) per runtime, with ratios to eager."""
    out = Table(title=title)
    for col in ("model", "backbone", "input", "batch", "eager", "onnxruntime", "TorchScript"):
        out.add_column(col, justify="left" if col in ("model", "backbone") else "right")
    for r in rows:
        eager = r[f"eager_img_{unit}"]
        cells = [f"{r[f'{n}_img_{unit}']:.1f} ({r[f'{n}_img_{unit}'] / eager:.2f}x)" for n in RUNTIMES[1:]]
        out.add_row(r["model"], r["backbone"], str(r["input"]), str(r["batch"]), f"{eager:.1f}", *cells)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["small", "xception", "efficientnet_b4"], help="model presets")
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[1, 32])
    parser.add_argument("--seconds", type=float, default=2.0, help="time budget per runtime and batch size")
    parser.add_argument("--min-runs", type=int, default=2, help="timed runs at least, after warm-up")
    parser.add_argument("--sizes", nargs="+", type=int, default=None, help="input sides (default: each preset's)")
    parser.add_argument("--threads", type=int, default=None, help="torch and onnxruntime threads (default: torch's)")
    parser.add_argument("--json", type=Path, default=None, help="also write the rows to this JSON file")
    args = parser.parse_args()
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    header = {
        "date": datetime.date.today().isoformat(),
        "cpu": cpu_name(),
        "threads": torch.get_num_threads(),  # torch intra-op threads, and onnxruntime's
        "torch": torch.__version__,
        "onnxruntime": ort.__version__,
        "load_avg_start": round(os.getloadavg()[0], 2),  # other processes on the machine skew the timings
    }
    print(" | ".join(f"{k}: {v}" for k, v in header.items()))
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        for preset in args.models:
            for size in args.sizes or [None]:
                rows += bench_preset(preset, args.batch_sizes, args.seconds, args.min_runs, Path(tmp), size)
    header["load_avg_end"] = round(os.getloadavg()[0], 2)
    print(f"1-min load average: {header['load_avg_start']} at the start, {header['load_avg_end']} at the end")
    machine = f"{header['cpu']}, {header['threads']} threads, {header['date']}"
    console = Console(width=120)
    console.print(table(rows, "s", f"Images per second, wall clock ({machine})"))
    console.print(table(rows, "cpu_s", f"Images per CPU-second of the process ({machine})"))
    diffs = (
        f"{r['model']} b{r['batch']}: {r['onnxruntime_max_abs_diff']:.1e} / {r['torchscript_max_abs_diff']:.1e}"
        for r in rows
    )
    print("max |diff| to eager (onnxruntime / TorchScript, untrained weights): " + ", ".join(diffs))
    if args.json is not None:
        args.json.write_text(json.dumps({"machine": header, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
