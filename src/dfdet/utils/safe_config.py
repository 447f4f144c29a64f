"""The allow-list of ``_target_`` names a stored config (a checkpoint's) may name, and the check run before rebuilding.

A checkpoint is loaded with ``torch.load(weights_only=True)``, which protects the tensors; its stored training config
then goes to Hydra's ``instantiate``, which imports and calls whatever its ``_target_`` keys name. A checkpoint from
someone else could name ``pathlib.Path.write_text`` or ``subprocess.run``. :func:`check_targets` walks the whole
stored config first (nested mappings, lists, ``_args_``, ``_partial_`` factories) and refuses it, naming the key and
the target, unless every ``_target_`` is one of :data:`ALLOWED_TARGETS`; nothing is imported or called before.
Every loader reads checkpoints through :func:`dfdet.models.read_checkpoint`, which runs this check (evaluate, export,
predict, serve, resume, fine-tune); a new loader (imported weights, a model zoo) reads through it too.

Exact names only, no prefixes: Hydra resolves a dotted name attribute by attribute, so a prefix such as
``torch.optim.`` would also admit ``torch.optim.lr_scheduler.torch.load``. ``tests/utils/test_safe_config.py`` scans
every ``_target_`` of ``conf/**/*.yaml`` and fails when one is missing here: a new config adds its target below.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from dfdet.errors import UnsafeConfigError

# The project's own classes and functions that the shipped configs (conf/, docs/) name.
PROJECT_TARGETS = frozenset(
    {
        "dfdet.data.DeepfakeDataModule",
        "dfdet.data.ProcessedSource",
        "dfdet.data.SyntheticSource",
        "dfdet.data.audio.benchmarks.ArenaProtocolSource",
        "dfdet.data.audio.benchmarks.ASVspoof2021Source",
        "dfdet.data.audio.benchmarks.ASVspoof5Source",
        "dfdet.data.audio.benchmarks.InTheWildSource",
        "dfdet.data.audio.benchmarks.PartialSpoofSource",
        "dfdet.data.audio.sources.ASVspoof2019LASource",
        "dfdet.data.audio.sources.AudioFolderSource",
        "dfdet.data.audio.sources.SyntheticAudioSource",
        "dfdet.data.audio.vocoded.MLAADSource",
        "dfdet.data.audio.vocoded.WaveFakeSource",
        "dfdet.data.av.SyntheticAVSource",
        "dfdet.data.images.reencode.Reencode",
        "dfdet.data.images.sources.ChameleonSource",
        "dfdet.data.images.sources.ForenSynthsSource",
        "dfdet.data.images.sources.GenImageSource",
        "dfdet.data.images.sources.ImageFolderSource",
        "dfdet.data.images.synthetic.SyntheticImageSource",
        "dfdet.data.readers.AudioVisualReader",
        "dfdet.models.audio_visual.JointAudioVisualNet",
        "dfdet.models.syncnet.SyncNet",
        "dfdet.data.readers.AudioWindowReader",
        "dfdet.data.readers.ImageReader",
        "dfdet.data.readers.face_reader",
        "dfdet.data.synthesis.FakeSynthesis",
        "dfdet.faces.FaceCropper",
        "dfdet.faces.FaceDetector",
        "dfdet.faces.FaceTracker",
        "dfdet.faces.landmarks68.Dlib68Landmarks",
        "dfdet.models.BinaryCrossEntropy",
        "dfdet.models.DeepfakeDetector",
        "dfdet.models.aasist.AASIST",
        "dfdet.models.audio.LCNN",
        "dfdet.models.audio.build_spectrogram_classifier",
        "dfdet.models.build_backbone",
        "dfdet.models.frequency.FrequencyFusionNet",
        "dfdet.models.frequency.SpectrumClassifier",
        "dfdet.models.frequency.SpectrumDetector",
        "dfdet.models.frontends.LFCC",
        "dfdet.models.frontends.LogMel",
        "dfdet.models.frontends.RawWaveform",
        "dfdet.models.heads.AttentionHead",
        "dfdet.models.npr.NPRNet",
        "dfdet.models.published.DeepfakeBenchCLIP",
        "dfdet.models.published.DeepfakeBenchEfficientNetB4",
        "dfdet.models.published.DeepfakeBenchXception",
        "dfdet.models.published.Effort",
        "dfdet.models.published.GenD",
        "dfdet.models.published.SBI",
        "dfdet.models.published.UnivFD",
        "dfdet.models.heads.MeanHead",
        "dfdet.models.heads.RecurrentHead",
        "dfdet.models.heads.TemporalConvHead",
        "dfdet.models.heads.TransformerHead",
        "dfdet.models.rawnet.RawNet2",
        "dfdet.models.ssl.AASISTBackend",
        "dfdet.models.ssl.LinearBackend",
        "dfdet.models.ssl.MHFABackend",
        "dfdet.models.ssl.SLSBackend",
        "dfdet.models.ssl.SSLDetector",
        "dfdet.models.ssl.SSLFrontend",
        "dfdet.models.static_padding.build_static_padding_backbone",
        "dfdet.models.tuning.Full",
        "dfdet.models.tuning.LayerNormTuning",
        "dfdet.models.tuning.LinearProbe",
        "dfdet.models.tuning.LoRA",
        "dfdet.models.tuning.SVDResidual",
        "dfdet.predict.Predictor",
        "dfdet.predict.load_model",
        "dfdet.predict.credentials.ContentCredentials",
        "dfdet.preprocess.ProcessedStore",
        "dfdet.preprocess.VideoPreprocessor",
        "dfdet.preprocess.releases.AVDeepfake1MRelease",
        "dfdet.preprocess.releases.CelebDFRelease",
        "dfdet.preprocess.releases.DFDCRelease",
        "dfdet.preprocess.releases.FaceForensicsRelease",
        "dfdet.preprocess.releases.FakeAVCelebRelease",
        "dfdet.preprocess.releases.FolderRelease",
        "dfdet.preprocess.releases.DeeperForensicsRelease",
        "dfdet.preprocess.releases.DF40Release",
        "dfdet.preprocess.releases.FFIWRelease",
        "dfdet.preprocess.releases.UADFVRelease",
        "dfdet.preprocess.releases.WildDeepfakeRelease",
        "dfdet.preprocess.releases.LAVDFRelease",
        "dfdet.preprocess.releases.LRSRelease",
        "dfdet.serve.AccessPolicy",
        "dfdet.serve.AuthSettings",
        "dfdet.serve.JobSettings",
        "dfdet.serve.ServeSettings",
        "dfdet.sweep.SweepSummary",
        "dfdet.sync.SyncMeasure",
        "dfdet.perturb.augment.AudioDistortionAugment",
        "dfdet.perturb.augment.DistortionAugment",
        "dfdet.transforms.audio.AddNoise",
        "dfdet.transforms.audio.AudioAugment",
        "dfdet.transforms.audio.CodecAugment",
        "dfdet.transforms.audio.ResampleAugment",
        "dfdet.transforms.audio.RoomReverb",
        "dfdet.transforms.rawboost.RawBoost",
        "dfdet.transforms.build_eval_transform",
        "dfdet.transforms.build_image_train_transform",
        "dfdet.transforms.build_train_transform",
        "dfdet.utils.loggers.build_wandb_logger",
        "hydra_plugins.dfdet_sweepers.optuna_sweeper.OptunaSweeper",
    }
)

# Names that checkpoints written before a rename still carry; keep a target here when its config moves.
LEGACY_TARGETS: frozenset[str] = frozenset()

# torch optimisers and schedulers a run may choose with ``model.optimizer._target_=...`` (no LambdaLR: it takes code).
_OPTIMIZERS = ("Adadelta", "Adagrad", "Adam", "AdamW", "Adamax", "ASGD", "NAdam", "RAdam", "RMSprop", "Rprop", "SGD")
_SCHEDULERS = (
    *("ConstantLR", "CosineAnnealingLR", "CosineAnnealingWarmRestarts", "CyclicLR", "ExponentialLR", "LinearLR"),
    *("MultiStepLR", "OneCycleLR", "PolynomialLR", "ReduceLROnPlateau", "StepLR"),
)
TORCH_TARGETS = frozenset(
    [f"torch.optim.{name}" for name in _OPTIMIZERS] + [f"torch.optim.lr_scheduler.{name}" for name in _SCHEDULERS]
)

# Lightning's trainer, callbacks and loggers that conf/trainer, conf/callbacks and conf/logger name.
LIGHTNING_TARGETS = frozenset(
    {
        "lightning.pytorch.Trainer",
        "lightning.pytorch.callbacks.ModelCheckpoint",
        "lightning.pytorch.loggers.CSVLogger",
        "lightning.pytorch.loggers.TensorBoardLogger",
    }
)

ALLOWED_TARGETS = PROJECT_TARGETS | LEGACY_TARGETS | TORCH_TARGETS | LIGHTNING_TARGETS


def iter_targets(node: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """Every ``_target_`` value in a config tree, with its key path (``model.net._args_[0]._target_``).

    Args:
        node: a mapping, a sequence or a leaf; OmegaConf nodes are read without resolving interpolations.
        path: the key path of ``node``.
    """
    if isinstance(node, DictConfig | ListConfig):
        node = OmegaConf.to_container(node, resolve=False)
    if isinstance(node, Mapping):
        for key, value in node.items():
            child = f"{path}.{key}" if path else str(key)
            if key == "_target_":
                yield child, value
            else:
                yield from iter_targets(value, child)
    elif isinstance(node, list | tuple):
        for i, value in enumerate(node):
            yield from iter_targets(value, f"{path}[{i}]")


def _interpolations(node: Any, path: str = "") -> Iterator[str]:
    """Key paths of string values holding ``${...}`` (an interpolation or a resolver call such as ``oc.create``)."""
    if isinstance(node, Mapping):
        for key, value in node.items():
            yield from _interpolations(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list | tuple):
        for i, value in enumerate(node):
            yield from _interpolations(value, f"{path}[{i}]")
    elif isinstance(node, str) and "${" in node:
        yield path


def check_targets(cfg: Any, origin: str) -> None:
    """Refuses a stored config that could make ``instantiate`` run anything but the allowed targets.

    Checks the whole tree before anything is built: every ``_target_`` must be a string in :data:`ALLOWED_TARGETS`,
    and no value may hold an interpolation (stored configs are saved resolved; a ``${oc.create:...}`` would build a
    config, with a target of its own, only when ``instantiate`` resolves it).

    Args:
        cfg: the stored config (a mapping or an OmegaConf node).
        origin: where it comes from (a checkpoint path), named in the error.

    Raises:
        UnsafeConfigError: the first offending key, with its target; nothing has been imported or called.
    """
    if isinstance(cfg, DictConfig | ListConfig):
        cfg = OmegaConf.to_container(cfg, resolve=False)
    for path, target in iter_targets(cfg):
        if not isinstance(target, str) or target not in ALLOWED_TARGETS:
            raise UnsafeConfigError(
                f"Refusing {origin}: its stored config names {target!r} at {path}, which is not an allowed target "
                "(dfdet.utils.safe_config.ALLOWED_TARGETS); nothing was run"
            )
    for path in _interpolations(cfg):
        raise UnsafeConfigError(
            f"Refusing {origin}: its stored config holds an interpolation at {path} (stored configs are saved "
            "resolved); nothing was run"
        )
