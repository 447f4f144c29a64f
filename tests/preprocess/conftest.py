"""Generated release trees (real H.264 clips of a real face) and the preprocessing config, for these tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

from dfdet.preprocess.fixtures import ClipBank, make_folder

CONF = Path(__file__).resolve().parents[2] / "conf"

# Small, quick and deterministic: 4 sampled frames, detection on all of them, 64-px crops, in-process.
TINY_PREPROCESS = [
    "data.frames_per_video=4",
    "preprocessor.detect_every=1",
    "preprocessor.cropper.size=64",
    "workers=1",
    "progress=false",
]


@pytest.fixture(scope="session")
def clip_bank(tmp_path_factory: pytest.TempPathFactory) -> ClipBank:
    return ClipBank(tmp_path_factory.mktemp("clips"), frames=6, variants=2)


@pytest.fixture
def folder_tree(tmp_path: Path, clip_bank: ClipBank) -> Path:
    """``real/`` and ``fake/``: one real video and its fake per split, a still image, a corrupt and an empty file."""
    return make_folder(tmp_path / "release", clip_bank)


@pytest.fixture
def preprocess_cfg(tmp_path: Path) -> Callable[..., DictConfig]:
    """Composes conf/preprocess.yaml with tiny settings, writing under ``tmp_path``."""

    def make(*overrides: str) -> DictConfig:
        base = [*TINY_PREPROCESS, f"paths.data_dir={tmp_path / 'data'}", f"paths.output_dir={tmp_path / 'run'}"]
        with initialize_config_dir(str(CONF), version_base="1.3"):
            return compose("preprocess", overrides=[*base, *overrides])

    return make
