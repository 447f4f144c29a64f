"""Every option of every config group composes with the rest and instantiates."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch
from hydra.utils import instantiate

from dfdet.data import DeepfakeDataModule
from dfdet.models import DeepfakeDetector
from dfdet.tasks.common import instantiate_dict

CONF = Path(__file__).resolve().parents[1] / "conf"


AUDIO_MODELS = ("lcnn", "rawnet2", "spec_cnn")
AUDIO_DATA = ("synthetic_audio", "asvspoof2019_la", "audio_folder")


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


@pytest.mark.parametrize("option", options("model"))
def test_model_options(tiny_cfg, option: str) -> None:
    audio = option in AUDIO_MODELS
    cfg = tiny_cfg(f"model={option}", *([] if audio or option == "spectrum" else ["model.net.pretrained=false"]))
    model = instantiate(cfg.model)
    assert isinstance(model, DeepfakeDetector)
    if audio:
        x = torch.randn(2, 8000)  # half a second of 16 kHz audio
    else:
        size = cfg.model.input.size if option not in ("xception", "efficientnet_b4") else 64  # big presets: small
        x = torch.randn(2, 3, size, size)
    assert model.eval()(x).shape == (2,)


@pytest.mark.parametrize("option", options("data"))
def test_data_options(tiny_cfg, option: str) -> None:
    audio = option in AUDIO_DATA
    cfg = tiny_cfg(f"data={option}", *(["model=lcnn"] if audio else []))
    datamodule = instantiate(cfg.data)
    assert isinstance(datamodule, DeepfakeDataModule) and datamodule.reader.keys == (
        ("audio",) if audio else ("image",)
    )


@pytest.mark.parametrize("option", options("augment"))
def test_augment_options(tiny_cfg, option: str) -> None:
    import numpy as np

    cfg = tiny_cfg(f"augment@data.train_transform={option}")
    transform = instantiate(cfg.data.train_transform)
    out = transform(np.zeros((80, 90, 3), dtype=np.uint8))
    assert out.shape == (3, cfg.model.input.size, cfg.model.input.size)


@pytest.mark.parametrize(("group", "option"), [(g, o) for g in ("callbacks", "logger") for o in options(g)])
def test_callback_and_logger_options(tiny_cfg, group: str, option: str) -> None:
    cfg = tiny_cfg(f"{group}={option}")
    assert isinstance(instantiate_dict(cfg.get(group)), list)


@pytest.mark.parametrize("option", options("trainer"))
def test_trainer_options(tiny_cfg, option: str) -> None:
    cfg = tiny_cfg(f"trainer={option}", "trainer.accelerator=cpu", "trainer.precision=32-true")
    assert isinstance(instantiate(cfg.trainer, logger=False), L.Trainer)


@pytest.mark.parametrize("option", options("debug"))
def test_debug_options(tiny_cfg, option: str) -> None:
    assert tiny_cfg(f"debug={option}").trainer.max_epochs >= 1


def test_every_yaml_is_reachable() -> None:
    groups = {p.parent.name for p in CONF.rglob("*.yaml") if p.parent != CONF}
    assert {"data", "model", "augment", "callbacks", "logger", "trainer", "paths", "hydra"} <= groups
    assert Path(CONF / "train.yaml").is_file()


def test_slurm_launcher_and_optuna_search_compose() -> None:
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(str(CONF), version_base="1.3"):
        cfg = compose("train", ["hydra/launcher=slurm", "trainer=ddp", "trainer.devices=4"], return_hydra_config=True)
        assert cfg.hydra.launcher._target_.endswith("SlurmLauncher")
        assert cfg.hydra.launcher.tasks_per_node == 4 and cfg.hydra.launcher.gpus_per_node == 4
        cfg = compose("train", ["hparams_search=optuna"], return_hydra_config=True)
        assert cfg.hydra.sweeper._target_.endswith("OptunaSweeper")
        assert cfg.optimized_metric == "val/auc_best" and "model.optimizer.lr" in cfg.hydra.sweeper.params


EXPERIMENT_TINY = [
    "data=synthetic",
    "model.net.name=test_efficientnet",
    "model.net.pretrained=false",
    "model.input.size=64",
    "trainer.accelerator=cpu",
    "trainer.precision=32-true",
    "data.num_workers=0",
    "data.batch_size=8",
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=2",
    "trainer.limit_val_batches=2",
    "trainer.limit_test_batches=2",
]


@pytest.mark.parametrize("experiment", options("experiment"))
def test_every_experiment_runs_a_few_steps(tiny_cfg, experiment: str) -> None:
    from dfdet.tasks.train import train

    cfg = tiny_cfg(f"experiment={experiment}", *EXPERIMENT_TINY)
    metrics = train(cfg)
    assert "test/auc" in metrics
