"""Serve a trained detector over HTTP with a web page: ``python serve.py model=PATH [port=8000]``.

PATH is an exported ONNX model or a train.py checkpoint. See conf/serve.yaml and docs/deployment.md.
"""

import sys

import hydra
from omegaconf import DictConfig

from dfdet.tasks.common import run_entry
from dfdet.tasks.predict import model_alias
from dfdet.tasks.serve import serve


@hydra.main(version_base="1.3", config_path="conf", config_name="serve")
def main(cfg: DictConfig) -> None:
    run_entry(serve, cfg)


if __name__ == "__main__":
    sys.argv = model_alias(sys.argv)
    main()
