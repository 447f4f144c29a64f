"""Audio scoring throughput on this machine (seconds of audio scored per second, eager PyTorch vs onnxruntime) and
the training step time of a self-supervised front-end (frozen, LoRA, fine-tuned), in one run.

Each model is built untrained through Hydra's compose of conf/train.yaml (speed does not depend on the weights),
exported with :mod:`dfdet.export` into a temporary folder and timed on random 4-s windows (the models' contract) at
each batch size: after warm-up, the fastest call counts. The SSL models are random ``transformers`` models of the
real classes: ``tiny`` (conf/model/ssl_frontend/tiny.yaml) and ``base`` (wav2vec 2.0 Base sizes: 12 layers, 768
wide; XLS-R 300M is 24 layers, 1024 wide, about 3.3x the base's compute).

    uv run python benchmarks/bench_audio.py [--models lcnn rawnet2 aasist aasist_l ssl_tiny] [--batch-sizes 1 8]
"""

from __future__ import annotations

import argparse
import datetime
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from bench_inference import cpu_name, time_runner
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from rich.console import Console
from rich.table import Table

from dfdet.export import LogitNet, eager_runner, export_onnx, load_onnx, max_abs_diff

CONF = Path(__file__).resolve().parents[1] / "conf"
BASE = (  # every key given: a dict override merges into the tiny one
    "model.net.frontend.config={model_type:wav2vec2,hidden_size:768,num_hidden_layers:12,num_attention_heads:12,"
    "intermediate_size:3072,conv_dim:[512,512,512,512,512,512,512],conv_kernel:[10,3,3,3,3,2,2],"
    "conv_stride:[5,2,2,2,2,2,2],num_conv_pos_embeddings:128,num_conv_pos_embedding_groups:16}"
)
SSL = {  # bench name -> overrides of model=ssl
    "ssl_tiny": ["model/ssl_frontend=tiny"],
    "ssl_base": ["model/ssl_frontend=tiny", BASE],
}
TUNING = {  # the front-end frozen (the back-end trains), LoRA on the attention (q, v), everything
    "frozen": ["model.net.frontend.freeze=true"],
    "lora": ["model/tuning=lora", "model.tuning.targets=[q_proj,v_proj]"],
    "fine-tuned": [],
}


def build(name: str, extra: list[str] | None = None) -> Any:
    """The untrained detector of ``model=<name>`` (or of model=ssl with a bench SSL front-end)."""
    overrides = ["model=ssl", *SSL[name]] if name in SSL else [f"model={name}"]
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=["data=synthetic_audio", *overrides, *(extra or [])])
    return instantiate(cfg.model)


def bench_scoring(name: str, batch_sizes: list[int], seconds: float, folder: Path) -> list[dict]:
    model = build(name).eval()
    samples, rate = model.contract.num_samples, model.contract.sample_rate
    module = LogitNet(model.net).eval()
    export_onnx(module, 0.1 * torch.randn(2, samples), folder / f"{name}.onnx", {}, opset=17)
    threads = torch.get_num_threads()
    runners = {"eager": eager_runner(model), "onnxruntime": load_onnx(folder / f"{name}.onnx", threads=threads)}
    params = sum(p.numel() for p in model.net.parameters())
    rows = []
    for batch in batch_sizes:
        x = 0.1 * torch.randn(batch, samples)
        row: dict[str, Any] = {"model": name, "params": params, "batch": batch}
        for runtime, runner in runners.items():
            wall, cpu = time_runner(runner, x, seconds, 2, 1)
            row[runtime] = batch * samples / rate / wall  # seconds of audio per second
            row[f"{runtime}_cpu"] = batch * samples / rate / cpu  # per CPU second (robust to load with 1 thread)
        row["max_abs_diff"] = max_abs_diff(runners["eager"](x), runners["onnxruntime"](x))
        rows.append(row)
        print(f"{name} batch {batch}: eager {row['eager']:.1f}, onnxruntime {row['onnxruntime']:.1f} s audio / s")
    return rows


def bench_training(name: str, batch: int, steps: int) -> list[dict]:
    """Seconds per optimisation step (forward, backward, AdamW) of ``name`` under each tuning strategy."""
    rows = []
    for tuning, extra in TUNING.items():
        model = build(name, extra).train()
        samples = model.contract.num_samples
        params = [p for p in model.parameters() if p.requires_grad]
        optimiser = torch.optim.AdamW(params, lr=1e-5)
        x, y = 0.1 * torch.randn(batch, samples), torch.randint(0, 2, (batch,)).float()
        times = []
        for _ in range(steps + 1):  # the first step warms up
            start = time.perf_counter()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x), y)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            times.append(time.perf_counter() - start)
        trained = sum(p.numel() for p in params)
        rows.append({"model": name, "tuning": tuning, "trained": trained, "step_s": min(times[1:])})
        print(f"{name} {tuning}: {min(times[1:]):.3f} s per step of {batch} x {samples} samples, {trained} trained")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["lcnn", "rawnet2", "aasist", "aasist_l", "ssl_tiny"])
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[1, 8])
    parser.add_argument("--seconds", type=float, default=2.0, help="time budget per runtime and batch size")
    parser.add_argument("--train-models", nargs="+", default=["ssl_tiny", "ssl_base"])
    parser.add_argument("--train-batch", type=int, default=2)
    parser.add_argument("--train-steps", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="torch and onnxruntime intra-op threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    console = Console()
    console.print(f"{cpu_name()}, {torch.get_num_threads()} thread(s), {datetime.date.today()}")
    with tempfile.TemporaryDirectory() as tmp:
        scoring = [row for m in args.models for row in bench_scoring(m, args.batch_sizes, args.seconds, Path(tmp))]
    training = [row for m in args.train_models for row in bench_training(m, args.train_batch, args.train_steps)]
    out = Table(title="Scoring throughput: seconds of 16 kHz audio per second (4-s windows)")
    columns = ("model", "params", "batch", "eager", "onnxruntime", "eager / CPU s", "onnxruntime / CPU s", "max |diff|")
    for col in columns:
        out.add_column(col, justify="left" if col == "model" else "right")
    for r in scoring:
        ratio, cpu_ratio = r["onnxruntime"] / r["eager"], r["onnxruntime_cpu"] / r["eager_cpu"]
        out.add_row(
            r["model"], f"{r['params']:,}", str(r["batch"]), f"{r['eager']:.1f}",
            f"{r['onnxruntime']:.1f} ({ratio:.2f}x)", f"{r['eager_cpu']:.1f}",
            f"{r['onnxruntime_cpu']:.1f} ({cpu_ratio:.2f}x)", f"{r['max_abs_diff']:.1e}",
        )  # fmt: skip
    console.print(out)
    steps = Table(title=f"SSL training step (batch {args.train_batch} x 4 s, forward + backward + AdamW)")
    for col in ("model", "tuning", "trained params", "s / step"):
        steps.add_column(col, justify="left" if col in ("model", "tuning") else "right")
    for r in training:
        steps.add_row(r["model"], r["tuning"], f"{r['trained']:,}", f"{r['step_s']:.3f}")
    console.print(steps)


if __name__ == "__main__":
    main()
