"""Every option of every config group composes with the rest and instantiates."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch
from hydra.utils import instantiate
from lightning.pytorch.accelerators import CPUAccelerator

from dfdet.data import DeepfakeDataModule
from dfdet.models import DeepfakeDetector
from dfdet.tasks.common import instantiate_dict

CONF = Path(__file__).resolve().parents[1] / "conf"


AUDIO_MODELS = ("lcnn", "rawnet2", "spec_cnn", "aasist", "aasist_l", "ssl")
SSL_EXPERIMENTS = ("xlsr_aasist", "xlsr_sls", "wavlm_mhfa")  # run tiny in tests/audio/test_ssl.py
FOUNDATION = {"clip_b16": "test_vit", "clip_l14": "test_vit", "dinov2_l14": "test_vit", "pe_l14": "test_vit"}
FOUNDATION["convnext_b"] = "test_convnext"
AUDIO_DATA = ("synthetic_audio", "asvspoof2019_la", "audio_folder")
AUDIO_DATA += ("asvspoof2021_la", "asvspoof2021_df", "asvspoof5", "in_the_wild", "speech_arena", "partialspoof")
AUDIO_DATA += ("wavefake", "mlaad")


def options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


AV_MODELS = ("av_joint", "av_joint_tiny", "syncnet", "syncnet_tiny")  # clips of face crops with sound (dict inputs)
AV_DATA = ("av_folder", "fakeavceleb", "lavdf", "avdeepfake1m", "lrs", "synthetic_av")


@pytest.mark.parametrize("option", options("model"))
def test_model_options(tiny_cfg, option: str) -> None:
    if option in AV_MODELS:
        small = ["model.net.face.name=test_resnet", "model.input.size=32"] if option.startswith("av_") else []
        cfg = tiny_cfg(f"model={option}", "data=av_folder", *small)
        model = instantiate(cfg.model)
        side = cfg.model.input.size
        clip = torch.randn(2, cfg.model.input.clip_len, 3, side, side)
        assert model.eval()({"clip": clip, "audio": torch.randn(2, cfg.model.input.num_samples)}).shape == (2,)
        return
    audio = option in AUDIO_MODELS
    own_net = audio or option in ("spectrum", "npr")  # networks of this project: no pretrained weights to turn off
    overrides = [] if own_net else ["model.net.pretrained=false"]
    overrides += ["model/ssl_frontend=tiny"] if option == "ssl" else []  # no XLS-R weights here: the tiny model class
    if option in FOUNDATION:  # ViT-L and ConvNeXt-B at full size are too big here: a tiny timm model of the family
        overrides += [f"model.net.name={FOUNDATION[option]}", "model.input.size=64"]
        overrides += ["++model.net.img_size=64"] if FOUNDATION[option] == "test_vit" else []
    cfg = tiny_cfg(f"model={option}", *overrides)
    model = instantiate(cfg.model)
    assert isinstance(model, DeepfakeDetector)
    if audio:
        x = torch.randn(2, 8000)  # half a second of 16 kHz audio
    else:
        big = ("xception", "efficientnet_b4", "cnnspot", "npr")  # big presets: small inputs here
        size = cfg.model.input.size if option not in big else 64
        x = torch.randn(2, 3, size, size)
    assert model.eval()(x).shape == (2,)


IMAGE_DATA = ("genimage", "forensynths", "chameleon", "image_folder", "synthetic_images")


AV_INPUT = ["model.input.modality=audio_visual", "model.input.clip_len=4", "++model.input.num_samples=3200",
            "++model.input.sample_rate=16000"]  # fmt: skip  # a clip-with-sound contract, whatever the model


@pytest.mark.parametrize("option", options("data"))
def test_data_options(tiny_cfg, option: str) -> None:
    audio, image, av = option in AUDIO_DATA, option in IMAGE_DATA, option in AV_DATA
    model = ["model=lcnn"] if audio else ["model=image_small"] if image else AV_INPUT if av else []
    cfg = tiny_cfg(f"data={option}", *model)
    datamodule = instantiate(cfg.data)
    keys = ("audio",) if audio else ("clip", "audio") if av else ("image",)
    assert isinstance(datamodule, DeepfakeDataModule) and datamodule.reader.keys == keys
    assert datamodule.modality == ("audio" if audio else "image" if image else "audio_visual" if av else "face")


@pytest.mark.parametrize("option", options("augment"))
def test_augment_options(tiny_cfg, option: str) -> None:
    import numpy as np

    cfg = tiny_cfg(f"augment={option}")
    assert cfg.data.train_transform.preset == option
    transform = instantiate(cfg.data.train_transform)
    out = transform(np.zeros((80, 90, 3), dtype=np.uint8))
    assert out.shape == (3, cfg.model.input.size, cfg.model.input.size)


@pytest.mark.parametrize(("config_name", "default"), [("train", "light"), ("evaluate", "none")])
def test_augment_group_reads_as_typed(compose_cfg, config_name: str, default: str) -> None:
    """``augment=heavy`` lands in data.train_transform (the augment files declare their package)."""
    required = ["ckpt_path=x.ckpt"] if config_name == "evaluate" else []
    cfg = compose_cfg(config_name, [*required, "augment=heavy"])
    assert cfg.data.train_transform.preset == "heavy" and "augment" not in cfg
    assert compose_cfg(config_name, required).data.train_transform.preset == default


@pytest.mark.parametrize("data", AUDIO_DATA)
def test_audio_data_configs_still_drop_image_augmentation(compose_cfg, data: str) -> None:
    """Data configs come after augment in the defaults list: an audio data config's ``train_transform: null`` wins."""
    for overrides in ([f"data={data}", "model=lcnn"], [f"data={data}", "model=lcnn", "augment=heavy"]):
        assert compose_cfg("train", overrides).data.train_transform is None


def test_experiments_choose_their_augmentation(compose_cfg) -> None:
    assert compose_cfg("train", ["experiment=dfdc_winner"]).data.train_transform.preset == "heavy"
    assert compose_cfg("train", ["experiment=ffpp_xception_c23"]).data.train_transform.preset == "light"


CALLBACKS_AND_LOGGERS = {
    ("callbacks", "default"): ["ModelCheckpoint"],
    ("callbacks", "none"): [],
    ("logger", "csv"): ["CSVLogger"],
    ("logger", "tensorboard"): ["TensorBoardLogger"],
    ("logger", "wandb"): ["WandbLogger"],
    ("logger", "none"): [],
}


def test_every_callback_and_logger_option_is_listed() -> None:
    assert set(CALLBACKS_AND_LOGGERS) == {(g, o) for g in ("callbacks", "logger") for o in options(g)}


@pytest.mark.parametrize(("group", "option"), sorted(CALLBACKS_AND_LOGGERS))
def test_callback_and_logger_options(tiny_cfg, tmp_path: Path, group: str, option: str) -> None:
    cfg = tiny_cfg(f"{group}={option}")
    built = instantiate_dict(cfg.get(group))
    assert [type(obj).__name__ for obj in built] == CALLBACKS_AND_LOGGERS[(group, option)]
    run = tmp_path / "run"
    for obj in built:  # everything is written into the run folder, checkpoints selected on validation
        if group == "logger":
            assert Path(obj.save_dir) == run
        elif type(obj).__name__ == "ModelCheckpoint":
            assert Path(obj.dirpath) == run / "checkpoints"
            assert (obj.monitor, obj.mode, obj.save_last) == ("val/auc", "max", True)


@pytest.mark.parametrize("option", options("trainer"))
def test_trainer_options(tiny_cfg, option: str) -> None:
    cfg = tiny_cfg(f"trainer={option}", "trainer.accelerator=cpu", "trainer.precision=32-true")
    assert isinstance(instantiate(cfg.trainer, logger=False), L.Trainer)


def test_debug_fast_shortens_the_run(compose_cfg, tmp_path: Path) -> None:
    out = f"paths.output_dir={tmp_path}"
    default = instantiate(compose_cfg("train", [out]).trainer, logger=False)
    cfg = compose_cfg("train", [out, "debug=fast"])
    trainer = instantiate(cfg.trainer, logger=False)
    assert default.max_epochs > 1 and default.limit_train_batches == 1.0  # what debug=fast has to change
    assert trainer.max_epochs == 1
    assert trainer.limit_train_batches == trainer.limit_val_batches == trainer.limit_test_batches == 2
    assert isinstance(trainer.accelerator, CPUAccelerator)
    assert cfg.data.num_workers == 0


PRIMARY_CONFIGS = sorted(p.stem for p in CONF.glob("*.yaml"))


def reached_configs() -> set[str]:
    """Config paths (``model/head/lstm``) in the defaults list of some primary config with some ``group=option``."""
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException
    from hydra.types import RunMode

    reached: set[str] = set()
    with initialize_config_dir(str(CONF), version_base="1.3"):
        loader = GlobalHydra.instance().config_loader()
        for path in CONF.glob("*/**/*.yaml"):
            group, option = str(path.parent.relative_to(CONF)), path.stem
            for primary in PRIMARY_CONFIGS:
                for within in ([], ["model=ssl"]):  # model/ssl_*: sub-groups of model=ssl
                    try:
                        defaults = loader.compute_defaults_list(primary, [*within, f"{group}={option}"], RunMode.RUN)
                    except HydraException:
                        continue
                    reached |= {d.config_path for d in defaults.defaults if d.config_path is not None}
    return reached


@pytest.mark.slow  # composes every option of every group (about a minute): full suite only
def test_every_yaml_is_reachable() -> None:
    """Each file under a group folder is chosen by a defaults list (as ``group=option`` or through another file)."""
    assert {"train", "evaluate", "export", "preprocess", "predict", "serve"} <= set(PRIMARY_CONFIGS)
    files = {str(p.relative_to(CONF).with_suffix("")) for p in CONF.glob("*/**/*.yaml")}
    assert {"data/base/datamodule", "model/head/lstm", "hydra/launcher/slurm"} <= files
    assert files - reached_configs() == set()


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

    if experiment in SSL_EXPERIMENTS:
        pytest.skip("speech recipes run tiny in tests/audio/test_ssl.py::test_ssl_experiments_run_tiny")
    overrides = list(EXPERIMENT_TINY)
    if experiment.startswith("genimage_"):  # whole-image recipes: the built-in generated-image set, small
        net = {  # the experiment's model named again: tiny_cfg would otherwise choose model=tiny
            "genimage_cnnspot": ["model=cnnspot", *overrides[1:3]],
            "genimage_npr": ["model=npr", "model.net.width=8"],  # this project's network: no timm name, no weights
            "genimage_univfd": [
                "model=clip_l14", "model/tuning=linear_probe", "model.net.name=test_vit", "model.net.pretrained=false",
                "++model.net.img_size=32",
            ],
        }[experiment]  # fmt: skip
        overrides = ["data=synthetic_images", "data.source.per_generator=[8,4,4]", *net, "model.input.size=32"]
        overrides += EXPERIMENT_TINY[4:]
    if experiment.endswith("_clip_l14"):  # face recipes on CLIP ViT-L/14: a tiny ViT stand-in of the same family
        overrides = [EXPERIMENT_TINY[0], "model.net.name=test_vit", "++model.net.img_size=32", "model.input.size=32",
                     *EXPERIMENT_TINY[2:3], *EXPERIMENT_TINY[4:]]  # fmt: skip
    if experiment == "aasist_synthetic":  # the built-in speech, few speakers; AASIST at a tiny width, bf16 as set
        overrides = [
            "data=synthetic_audio", "model=aasist", "data.source.speakers=[2,2,2]",
            "data.source.utterances_per_speaker=2", "data.source.workers=1", "model.net.sinc_channels=12",
            "model.net.sinc_kernel=33", "model.net.encoder_channels=[4,4,8,8]", "model.net.gat_dims=[8,6]",
            "model.input.num_samples=4000", *EXPERIMENT_TINY[4:5], *EXPERIMENT_TINY[6:],
        ]  # fmt: skip
    cfg = tiny_cfg(f"experiment={experiment}", *overrides)
    metrics = train(cfg)
    assert "test/auc" in metrics


def test_prediction_and_preprocessing_share_one_face_pipeline(compose_cfg) -> None:
    """conf/faces/default.yaml is mounted into both; only frame count, landmarks and (serve) timeout differ."""
    from omegaconf import OmegaConf

    faces = OmegaConf.to_container(OmegaConf.load(CONF / "faces" / "default.yaml"))
    pre = OmegaConf.to_container(compose_cfg("preprocess", ["data=ffpp", "data.frames_per_video=8"]).preprocessor)
    predict = OmegaConf.to_container(compose_cfg("predict", ["model_path=m.onnx", "input=x.mp4"]).predictor.faces)
    serve = OmegaConf.to_container(compose_cfg("serve", ["model_path=m.onnx"]).predictor.faces, resolve=True)
    assert pre == {**faces, "frames_per_video": "${data.frames_per_video}", "landmarks68": None}
    assert predict == faces
    assert serve == {**faces, "decode_timeout_s": 60}  # limits.request_timeout_s
    assert faces["_target_"] == "dfdet.preprocess.VideoPreprocessor" and faces["frames_per_video"] == 32


def test_face_pipeline_overrides_reach_each_task(compose_cfg) -> None:
    pre = compose_cfg("preprocess", ["data=folder", "preprocessor.cropper.size=64", "data.frames_per_video=4"])
    assert pre.preprocessor.cropper.size == 64 and pre.preprocessor.frames_per_video == 4
    predict = compose_cfg("predict", ["model_path=m.onnx", "input=x", "predictor.faces.detect_every=4"])
    assert predict.predictor.faces.detect_every == 4 and predict.predictor.faces.cropper.size == 256
