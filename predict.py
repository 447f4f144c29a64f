"""Score files with a trained detector: ``python predict.py model=PATH input=FILE_OR_FOLDER [explain=true]``.

PATH is an exported ONNX model (export.py) or a train.py checkpoint. See conf/predict.yaml and docs/deployment.md.
"""

import sys

import hydra
from omegaconf import DictConfig

from dfdet.tasks.common import run_entry
from dfdet.tasks.predict import model_alias, predict


@hydra.main(version_base="1.3", config_path="conf", config_name="predict")
def main(cfg: DictConfig) -> None:
    run_entry(predict, cfg)


if __name__ == "__main__":
    sys.argv = model_alias(sys.argv)
    main()
