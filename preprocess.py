"""Preprocess a dataset into face crops: ``python preprocess.py data=<ffpp|celebdf|dfdc|folder> data.root=...``.

See conf/preprocess.yaml and docs/preprocessing.md.
"""

import hydra
from omegaconf import DictConfig

from dfdet.tasks.common import run_entry
from dfdet.tasks.preprocess import preprocess


@hydra.main(version_base="1.3", config_path="conf", config_name="preprocess")
def main(cfg: DictConfig) -> None:
    run_entry(preprocess, cfg)


if __name__ == "__main__":
    main()
