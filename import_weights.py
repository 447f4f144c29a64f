"""Convert a released checkpoint: ``python import_weights.py published=sbi weights=/path/to/FFc23.tar``.

See conf/import_weights.yaml, conf/published/ and docs/foundation_models.md ("Published weights").
"""

import hydra
from omegaconf import DictConfig

from dfdet.tasks.common import run_entry
from dfdet.tasks.import_weights import import_weights


@hydra.main(version_base="1.3", config_path="conf", config_name="import_weights")
def main(cfg: DictConfig) -> None:
    print(run_entry(import_weights, cfg))


if __name__ == "__main__":
    main()
