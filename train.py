"""Train a detector: ``python train.py [model=...] [data=...] [overrides]``. See conf/train.yaml."""

import hydra
from omegaconf import DictConfig

from dfdet.tasks.common import run_entry
from dfdet.tasks.train import train


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    metrics = run_entry(train, cfg)
    return metrics.get(cfg.get("optimized_metric", ""))  # for Hydra sweepers


if __name__ == "__main__":
    main()
