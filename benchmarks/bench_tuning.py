"""Tuning strategies side by side: trained parameters, peak training memory and training images/s.

    uv run python benchmarks/bench_tuning.py                                   # ViT-B/16 at 224 px, batch 8, CPU
    uv run python benchmarks/bench_tuning.py --device cuda --batch-size 64 --steps 20   # on a GPU
    uv run python benchmarks/bench_tuning.py --grad-checkpointing       # model.grad_checkpointing=true
    uv run python benchmarks/bench_tuning.py --batch-size 2 --steps 1 --extra +model.net.depth=2   # smoke run

Each strategy (``model/tuning=full|linear_probe|layernorm|lora|svd_residual``) runs in its own subprocess, one after
the other, so that each peak is its own: the preset's network is built through the real Hydra config with random
weights (``model.net.pretrained=false``: nothing is downloaded), then trained for ``--warmup`` + ``--steps`` steps
(forward, BCE plus the strategy's own loss terms, backward, AdamW over the trained parameters) on random inputs.

What is measured:
- trained / total parameters (``requires_grad``), as train.py records them;
- CPU: peak resident memory of the process (``getrusage(RUSAGE_SELF).ru_maxrss``), reported as ``peak`` (the whole
  process: Python, torch, the frozen weights) and ``train delta`` (peak minus the peak reached once the model and the
  inputs were built: gradients, optimizer state and the activations kept for backward). The resident set counts
  every allocation, torch's and the rest; tracemalloc would not see torch's CPU allocator. ru_maxrss never goes down,
  so a construction peak higher than the training one would hide the latter (the delta is then 0);
- CUDA: ``torch.cuda.max_memory_allocated`` over the training steps (reset after building), and the same delta;
- images/s over the timed steps (after the warm-up), in the same run, so the strategies share the machine's load.

``grads + AdamW`` is what the trained parameters' gradients and optimizer moments take (12 bytes each, computed): the
rest of the delta is the activations kept for backward. The last column is each strategy's training-memory delta
divided by full fine-tuning's (the issue's target: at most 0.5 for the PEFT strategies).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import torch

CONF = Path(__file__).resolve().parents[1] / "conf"
STRATEGIES = ("full", "linear_probe", "layernorm", "lora", "svd_residual")


def _rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: kilobytes


def measure(
    model: str, strategy: str, batch_size: int, steps: int, warmup: int, device: str, extra: list[str], ckpt: bool
) -> dict:
    """One strategy, in this process: parameters, memory, images/s (``ckpt``: timm's gradient checkpointing)."""
    from hydra import compose, initialize_config_dir
    from hydra.utils import instantiate

    from dfdet.models.tuning import count_parameters

    with initialize_config_dir(str(CONF), version_base="1.3"):
        overrides = [f"model={model}", "model.net.pretrained=false", f"model/tuning={strategy}"]
        overrides += [f"model.grad_checkpointing={str(ckpt).lower()}", *extra]  # the config key train.py reads
        cfg = compose("train", overrides)
    torch.manual_seed(0)
    net = instantiate(cfg.model).to(device).train()
    trained, total = count_parameters(net)
    optimizer = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=1e-4)
    size = cfg.model.input.size
    x = torch.randn(batch_size, 3, size, size, device=device)
    y = torch.randint(0, 2, (batch_size,), device=device).float()
    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.max_memory_allocated()
    else:
        base = _rss_bytes()

    def step() -> None:
        loss = torch.nn.functional.binary_cross_entropy_with_logits(net(x), y)
        for term in net.tuning_losses(y).values():
            loss = loss + term
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(warmup):
        step()
    if cuda:
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if cuda:
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() if cuda else _rss_bytes()
    return {
        "strategy": strategy,
        "trained": trained,
        "total": total,
        "peak_mb": peak / 2**20,
        "delta_mb": (peak - base) / 2**20,
        "images_per_s": batch_size * steps / seconds,
    }


def state_mb(row: dict) -> float:
    """Gradients and AdamW's two moments of the trained parameters (float32: 12 bytes each), in MB: the part of the
    training delta that is not activations kept for backward (nor allocator slack)."""
    return row["trained"] * 12 / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="clip_b16", help="model preset (conf/model/<name>.yaml)")
    parser.add_argument("--strategies", nargs="+", default=list(STRATEGIES))
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--extra", nargs="*", default=[], help="more config overrides (model.input.size=...)")
    parser.add_argument("--grad-checkpointing", action="store_true", help="model.grad_checkpointing=true (timm)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = measure(
            args.model, args.child, args.batch_size, args.steps, args.warmup, args.device, args.extra,
            args.grad_checkpointing,
        )  # fmt: skip
        print(json.dumps(result))
        return

    rows = []
    for strategy in args.strategies:
        command = [sys.executable, __file__, "--child", strategy, "--model", args.model, "--device", args.device]
        command += ["--batch-size", str(args.batch_size), "--steps", str(args.steps), "--warmup", str(args.warmup)]
        command += ["--grad-checkpointing"] if args.grad_checkpointing else []
        command += ["--extra", *args.extra] if args.extra else []
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"  {strategy}: done", file=sys.stderr, flush=True)
    full = next((r for r in rows if r["strategy"] == "full"), None)
    memory = "CUDA max allocated" if args.device.startswith("cuda") else "peak RSS"
    threads = torch.get_num_threads()
    ckpt = ", gradient checkpointing" if args.grad_checkpointing else ""
    print(f"{args.model}, batch {args.batch_size}, {args.steps} timed steps{ckpt}, {args.device} ({threads} threads)")
    print(f"| strategy | trained / total params | {memory} MB | train delta MB | grads + AdamW MB | images/s "
          "| delta / full |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        ratio = f"{r['delta_mb'] / full['delta_mb']:.2f}" if full and full["delta_mb"] > 0 else "-"
        share = f"{r['trained']:,} / {r['total']:,} ({100 * r['trained'] / r['total']:.2f} %)"
        print(
            f"| {r['strategy']} | {share} | {r['peak_mb']:.0f} | {r['delta_mb']:.0f} | {state_mb(r):.0f} "
            f"| {r['images_per_s']:.2f} "
            f"| {ratio} |"
        )


if __name__ == "__main__":
    main()
