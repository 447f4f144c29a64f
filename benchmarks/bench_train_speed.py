"""Training throughput per speed switch: fp32, bf16/fp16 autocast, channels-last, torch.compile.

    uv run python benchmarks/bench_train_speed.py --model efficientnet_b4 --batch-size 32 --steps 30   # on a GPU
    uv run python benchmarks/bench_train_speed.py --model small --batch-size 32 --steps 5              # CPU smoke run

Each option trains the preset's network (built through the real Hydra config, untrained) for ``--steps`` steps on
random inputs after ``--warmup`` steps, and prints images/s and the ratio to fp32, with the device name. The options
map to config keys: ``trainer.precision=bf16-mixed|16-mixed``, ``model.channels_last=true``, ``model.compile=true``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

CONF = Path(__file__).resolve().parents[1] / "conf"
OPTIONS = {
    "fp32": {"precision": None, "channels_last": False, "compile": False},
    "bf16-mixed": {"precision": torch.bfloat16, "channels_last": False, "compile": False},
    "16-mixed": {"precision": torch.float16, "channels_last": False, "compile": False},
    "bf16+channels_last": {"precision": torch.bfloat16, "channels_last": True, "compile": False},
    "bf16+channels_last+compile": {"precision": torch.bfloat16, "channels_last": True, "compile": True},
}


def measure(model_name: str, option: dict, batch_size: int, steps: int, warmup: int, device: torch.device) -> float:
    """Images per second of forward + backward + optimizer step."""
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose(
            "train",
            [
                f"model={model_name}",
                "model.net.pretrained=false",
                f"model.channels_last={option['channels_last']}",
                f"model.compile={option['compile']}",
            ],
        )
    model = instantiate(cfg.model).to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    size = cfg.model.input.size
    x = torch.randn(batch_size, 3, size, size, device=device)
    y = torch.randint(0, 2, (batch_size,), device=device).float()
    scaler = torch.amp.GradScaler(enabled=option["precision"] is torch.float16 and device.type == "cuda")
    dtype = option["precision"]

    def step() -> None:
        with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
            loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()

    for _ in range(warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return batch_size * steps / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="efficientnet_b4", help="a conf/model preset")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--options", nargs="*", default=list(OPTIONS), choices=list(OPTIONS))
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    name = torch.cuda.get_device_name() if device.type == "cuda" else "CPU"
    print(f"device: {name}, model={args.model}, batch {args.batch_size}, {args.steps} timed steps")
    base = None
    for option in args.options:
        if option == "16-mixed" and device.type == "cpu":
            continue  # fp16 autocast is a GPU option
        try:
            rate = measure(args.model, OPTIONS[option], args.batch_size, args.steps, args.warmup, device)
        except Exception as exc:  # noqa: BLE001 - report and go on with the other options
            print(f"{option:28s} failed: {type(exc).__name__}: {exc}")
            continue
        base = base or rate
        print(f"{option:28s} {rate:9.1f} images/s   x{rate / base:.2f} vs fp32")


if __name__ == "__main__":
    main()
