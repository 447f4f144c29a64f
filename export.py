"""Export a trained detector: ``python export.py ckpt_path=<run>/checkpoints/best.ckpt [format=onnx|torchscript|all]``.

See conf/export.yaml and docs/export.md.
"""

import hydra
from omegaconf import DictConfig

from dfdet.tasks.common import run_entry
from dfdet.tasks.export import export


@hydra.main(version_base="1.3", config_path="conf", config_name="export")
def main(cfg: DictConfig) -> None:
    run_entry(export, cfg)


if __name__ == "__main__":
    main()
