"""Cross-dataset benchmark in one command: ``python benchmark.py ckpt_path=PATH test_sets=[ffpp,celebdf,dfdc]``."""

import hydra
from omegaconf import DictConfig

from dfdet.tasks.benchmark import benchmark
from dfdet.tasks.common import run_entry


@hydra.main(version_base="1.3", config_path="conf", config_name="benchmark")
def main(cfg: DictConfig) -> None:
    run_entry(benchmark, cfg)


if __name__ == "__main__":
    main()
