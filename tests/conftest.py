"""Shared fixtures: compose the real Hydra config with tiny, CPU-only settings."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf"
SHARED_DATA = ROOT.parent / "shared" / "data"

# A synthetic dataset small enough to generate in well under a second, and a tiny model.
TINY_SYNTHETIC = ["data.source.identities=[4,2,2]", "data.source.frames_per_video=4", "data.source.image_size=64"]
TINY = [
    "data.batch_size=16",
    "trainer.max_epochs=1",
    "trainer.accelerator=cpu",
    "trainer.enable_progress_bar=false",
    "trainer.log_every_n_steps=1",
]

# Preprocessing, small, quick and deterministic: 4 sampled frames, detection on all of them, 64-px crops, in-process.
TINY_PREPROCESS = [
    "data.frames_per_video=4",
    "preprocessor.detect_every=1",
    "preprocessor.cropper.size=64",
    "workers=1",
    "progress=false",
]


def compose_config(config_name: str, overrides: list[str]) -> DictConfig:
    """Composes ``conf/<config_name>.yaml`` with ``overrides`` (no Hydra run; the ``hydra`` node is left out)."""
    with initialize_config_dir(str(CONF), version_base="1.3"):
        return compose(config_name, overrides=overrides)


def write_untrained_checkpoint(path: Path, *overrides: str) -> Path:
    """A checkpoint in train.py's layout (state_dict and the resolved config) of an untrained model of ``conf/train``
    with ``overrides``."""
    import torch
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    cfg = compose_config("train", [f"paths.output_dir={path.parent}", "trainer.max_epochs=1", *overrides])
    model = instantiate(cfg.model)
    config = OmegaConf.to_container(cfg, resolve=True)
    torch.save({"state_dict": model.state_dict(), "dfdet": {"version": "test", "config": config}}, path)
    return path


@pytest.fixture
def write_checkpoint() -> Callable[..., Path]:
    """:func:`write_untrained_checkpoint` (``write_checkpoint(path, *overrides)``)."""
    return write_untrained_checkpoint


@pytest.fixture(scope="session")
def untrained_audio_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained tiny LCNN (half-second windows at 16 kHz) as a train.py checkpoint."""
    return write_untrained_checkpoint(
        tmp_path_factory.mktemp("audio_model") / "lcnn.ckpt",
        "data=synthetic_audio", "model=lcnn", "model.input.num_samples=8000", "model.net.channels=[4,4,4,4,4]",
        "model.net.embedding=8",
    )  # fmt: skip


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data folder per test session, so the tiny synthetic dataset is generated once."""
    return tmp_path_factory.mktemp("data")


@pytest.fixture
def tiny_cfg(tmp_path: Path, data_dir: Path) -> Callable[..., DictConfig]:
    """Returns a function composing the training config with tiny settings plus extra overrides."""

    def make(*overrides: str, config_name: str = "train") -> DictConfig:
        """Tiny settings; the tiny model and synthetic data unless ``overrides`` choose others."""
        chosen = {o.split("=", 1)[0] for o in overrides}
        base = [
            *TINY,
            *([] if "data" in chosen else TINY_SYNTHETIC),
            *([] if "model" in chosen else ["model=tiny"]),
            f"paths.data_dir={data_dir}",
            f"paths.output_dir={tmp_path / 'run'}",
            f"paths.log_dir={tmp_path}",
        ]
        return compose_config(config_name, [*base, *overrides])

    return make


@pytest.fixture
def shared_data() -> Path:
    """``../shared/data`` (real media); the test is skipped when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real media folder {SHARED_DATA} is absent")
    return SHARED_DATA


@pytest.fixture
def run_cli(tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """Runs an entry-point script (``train.py`` ...) of the repository in a subprocess, from ``tmp_path``."""

    def run(script: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                str(ROOT / script),
                *args,
                *([] if any(a.startswith("hydra.run.dir=") for a in args) else [f"hydra.run.dir={tmp_path / 'cli'}"]),
            ],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=timeout,
        )

    return run


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> tuple[Path, dict[str, float]]:
    """A tiny model trained once per session on the tiny synthetic data: (run folder, its training metrics).

    The run folder holds ``checkpoints/best.ckpt``, ``metrics.json`` and ``config_resolved.yaml``.
    """
    from dfdet.tasks.train import train

    run = tmp_path_factory.mktemp("trained") / "run"
    cfg = compose_config(
        "train",
        [
            *TINY,
            *TINY_SYNTHETIC,
            "model=tiny",
            "trainer.max_epochs=2",
            f"paths.data_dir={data_dir}",
            f"paths.output_dir={run}",
            f"paths.log_dir={run.parent}",
        ],
    )
    return run, train(cfg)


@pytest.fixture
def preprocess_cfg(tmp_path: Path) -> Callable[..., DictConfig]:
    """Composes conf/preprocess.yaml with tiny settings, writing under ``tmp_path`` (crops in ``data/processed``)."""

    def make(*overrides: str) -> DictConfig:
        base = [*TINY_PREPROCESS, f"paths.data_dir={tmp_path / 'data'}", f"paths.output_dir={tmp_path / 'run'}"]
        return compose_config("preprocess", [*base, *overrides])

    return make


@pytest.fixture
def tiny_synthetic() -> list[str]:
    """The overrides of the tiny synthetic dataset (:data:`TINY_SYNTHETIC`), for configs composed by hand."""
    return list(TINY_SYNTHETIC)


@pytest.fixture
def compose_cfg() -> Callable[[str, list[str]], DictConfig]:
    """:func:`compose_config` as a fixture (conftest modules are not importable by name from every test folder)."""
    return compose_config


@pytest.fixture
def trained_task_cfg(
    trained_run: tuple[Path, dict[str, float]], data_dir: Path, tmp_path: Path
) -> Callable[..., DictConfig]:
    """``make(config_name, out, *overrides)``: ``conf/<config_name>.yaml`` (evaluate, benchmark) on the session's
    trained checkpoint and data, on the CPU, writing into ``tmp_path / out``."""
    run, _ = trained_run

    def make(config_name: str, out: str, *overrides: str) -> DictConfig:
        return compose_config(
            config_name,
            [
                f"ckpt_path={run / 'checkpoints' / 'best.ckpt'}",
                f"paths.data_dir={data_dir}",
                f"paths.output_dir={tmp_path / out}",
                "trainer.accelerator=cpu",
                "trainer.enable_progress_bar=false",
                *overrides,
            ],
        )

    return make


@pytest.fixture(scope="session")
def image_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained tiny whole-image model (``model=image_small`` at 32 px, a grid of 4 crops) exported to ONNX."""
    import torch
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from dfdet.tasks.export import export

    folder = tmp_path_factory.mktemp("image_model")
    with initialize_config_dir(str(CONF), version_base="1.3"):
        overrides = ["model=image_small", "model.input.size=32", "model.input.crop=grid", "model.input.crops=4"]
        cfg = compose("train", [f"paths.output_dir={folder}", *overrides])
        stored = {"version": "test", "config": OmegaConf.to_container(cfg, resolve=True)}
        torch.save({"state_dict": instantiate(cfg.model).state_dict(), "dfdet": stored}, folder / "image.ckpt")
        export(compose("export", [f"ckpt_path={folder / 'image.ckpt'}", f"output_dir={folder}", "speed=null"]))
    return folder / "image.onnx"


@pytest.fixture(scope="session")
def onnx_audio_path(untrained_audio_ckpt: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained tiny LCNN exported to ONNX (front-end inside the graph), as ``onnx_path`` of tests/predict."""
    from omegaconf import OmegaConf

    from dfdet.export import ExportOptions, export_detector
    from dfdet.models import load_detector

    model, cfg = load_detector(untrained_audio_ckpt)
    out = tmp_path_factory.mktemp("exported_audio")
    options = ExportOptions(formats=("onnx",), verify=False, speed_batch_size=None)
    export_detector(model, model.run_config or OmegaConf.to_container(cfg), out, "lcnn", options)
    return out / "lcnn.onnx"


@pytest.fixture(scope="session")
def untrained_face_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained tiny face model (``model=tiny``) as a train.py checkpoint: quick to make, for tests of the media
    handling rather than of the scores."""
    import torch
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    path = tmp_path_factory.mktemp("face_model") / "tiny.ckpt"
    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("train", [f"paths.output_dir={path.parent}", "trainer.max_epochs=1", "model=tiny"])
    stored = {"version": "test", "config": OmegaConf.to_container(cfg, resolve=True)}
    torch.save({"state_dict": instantiate(cfg.model).state_dict(), "dfdet": stored}, path)
    return path
