"""Cost of a full perturbation sweep relative to one clean evaluation, measured in one run.

An untrained detector (speed does not depend on the weights) is saved as a train.py checkpoint and evaluated twice
through ``dfdet.tasks.evaluate.evaluate`` on the built-in synthetic test split: once clean (``perturb=none``), once
with ``perturb=default`` (the 38 face/image settings: DeeperForensics-1.0's 7 distortions at 5 levels, resize down
and up, the social-media chain, on the stored crops), once per sweep engine (``perturb.engine``: the network in
onnxruntime, the CPU default, and in eager PyTorch). Printed: the wall times, each sweep's ratio to the clean run,
the sweep's time per distortion, and its scoring time per setting.

    uv run python benchmarks/bench_perturb.py [--model small] [--image-size 96] [--identities 12] [--bootstrap 200]
        [--engines onnxruntime eager]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from omegaconf import OmegaConf

from dfdet.tasks.evaluate import evaluate

CONF = Path(__file__).resolve().parents[1] / "conf"


def _compose(name: str, overrides: list[str]):  # type: ignore[no-untyped-def]
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose(name, overrides=overrides)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="small")
    parser.add_argument("--image-size", type=int, default=96, help="side of the stored synthetic crops")
    parser.add_argument("--identities", type=int, default=12, help="test identities (4 videos of 8 frames each)")
    parser.add_argument("--bootstrap", type=int, default=200, help="bootstrap replicates per setting")
    parser.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1), help="sweep threads")
    parser.add_argument("--accelerator", default="cpu")
    parser.add_argument("--engines", nargs="+", default=["onnxruntime", "eager"], help="perturb.engine values")
    args = parser.parse_args()
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory(prefix="bench-perturb-") as tmp:
        root = Path(tmp)
        data = [f"data.source.image_size={args.image_size}", f"data.source.identities=[2,2,{args.identities}]",
                f"paths.data_dir={root / 'data'}"]  # fmt: skip
        train_cfg = _compose("train", [f"model={args.model}", *data, f"paths.output_dir={root / 'train'}"])
        model = instantiate(train_cfg.model)
        ckpt = root / "model.ckpt"
        config = OmegaConf.to_container(train_cfg, resolve=True)
        torch.save({"state_dict": model.state_dict(), "dfdet": {"version": "bench", "config": config}}, ckpt)
        common = [f"ckpt_path={ckpt}", "data=synthetic", *data, f"trainer.accelerator={args.accelerator}",
                  "trainer.devices=1", "trainer.enable_progress_bar=false"]  # fmt: skip
        evaluate(_compose("evaluate", [*common, f"paths.output_dir={root / 'warm'}"]))  # data generated, caches warm
        start = time.perf_counter()
        evaluate(_compose("evaluate", [*common, f"paths.output_dir={root / 'clean'}"]))
        clean = time.perf_counter() - start
        sweeps: dict[str, tuple[float, dict]] = {}
        for engine in args.engines:
            overrides = [f"paths.output_dir={root / engine}", "perturb=default", f"perturb.engine={engine}",
                         f"perturb.bootstrap={args.bootstrap}", f"perturb.workers={args.workers}"]  # fmt: skip
            start = time.perf_counter()
            evaluate(_compose("evaluate", [*common, *overrides]))
            wall = time.perf_counter() - start
            sweeps[engine] = wall, json.loads((root / engine / "metrics.json").read_text())["robustness"]
    first = next(iter(sweeps.values()))[1]
    n_items = first["clean"]["real"] + first["clean"]["fake"]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch threads "
          f"{torch.get_num_threads()}, accelerator {args.accelerator}")  # fmt: skip
    print(f"data: synthetic test split, {n_items} videos, crops {args.image_size} px; model={args.model}")
    print(f"clean evaluate.py: {clean:.1f} s")
    for engine, (wall, robust) in sweeps.items():
        seconds: dict[str, float] = robust["seconds"]
        settings = {k: v for k, v in seconds.items() if k != "clean"}
        per_distortion: dict[str, float] = {}
        for name, value in settings.items():
            per_distortion[name.split("/")[0]] = per_distortion.get(name.split("/")[0], 0.0) + value
        print(f"evaluate.py perturb=default perturb.engine={engine} ({len(settings)} settings, bootstrap "
              f"{args.bootstrap}): {wall:.1f} s; ratio to the clean run {wall / clean:.1f}x (the extra cost alone: "
              f"{(wall - clean) / clean:.1f}x)")  # fmt: skip
        print(
            f"  sweep clean pass (decodes every crop once): {seconds['clean']:.2f} s; mean setting "
            f"{sum(settings.values()) / len(settings):.2f} s; clean video AUC {robust['clean']['auc']:.6f}"
        )
        print("  per distortion (s, all levels): " + ", ".join(f"{k} {v:.1f}" for k, v in per_distortion.items()))


if __name__ == "__main__":
    main()
