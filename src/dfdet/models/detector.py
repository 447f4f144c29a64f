"""The LightningModule shared by every image detector: a network that returns fake logits, a loss, metrics."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Protocol, cast

import lightning as L
import torch
from torch import nn

from dfdet import __version__
from dfdet.contract import ContractError, InputContract
from dfdet.errors import ModelConfigError
from dfdet.metrics import DetectionMetrics
from dfdet.metrics.calibration import fit_temperature, scale_probability, uncertain_band
from dfdet.metrics.functional import aggregate_by_video
from dfdet.metrics.report import write_report
from dfdet.models.losses import BinaryCrossEntropy

OptimizerFactory = Callable[[Iterable[nn.Parameter]], torch.optim.Optimizer]
SchedulerFactory = Callable[[torch.optim.Optimizer], torch.optim.lr_scheduler.LRScheduler]


class Tuning(Protocol):
    """A tuning strategy (:mod:`dfdet.models.tuning`): adapts a network in place, may add loss terms."""

    def __call__(self, net: nn.Module) -> nn.Module: ...

    def losses(self, net: nn.Module, labels: torch.Tensor) -> dict[str, torch.Tensor]: ...


class TimmNet(Protocol):
    """The part of timm's model interface that clip models and fine-tuning use (a static type; no runtime check)."""

    num_features: int

    def forward_features(self, x: torch.Tensor) -> torch.Tensor: ...

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor: ...

    def get_classifier(self) -> nn.Module: ...


def _enable_grad_checkpointing(net: nn.Module) -> None:
    enable = getattr(net, "set_grad_checkpointing", None)
    if enable is None:
        raise ModelConfigError(
            f"model.grad_checkpointing=true needs a timm network (set_grad_checkpointing); {type(net).__name__} "
            "has none"
        )
    enable(True)


class DeepfakeDetector(L.LightningModule):
    """Binary real/fake detector over face crops, whole images or waveforms.

    The network returns logits (fake = positive class); probabilities, video aggregation and the decision threshold
    live here, outside the network, so exported models stay plain. The model owns its input contract
    (:class:`~dfdet.contract.InputContract`): it reads the batch entries its contract names (``image``, ``clip`` or
    ``audio``; ``clip`` and ``audio`` together for audio-visual networks, which get them as a dict), and data,
    export and prediction read the contract from it.

    Args:
        net: maps (B, 3, H, W) to (B, 1) or (B,) logits (a timm model for clip models: its pooled features are used);
            audio networks map waveforms (B, N).
        optimizer: partial optimizer taking the parameters.
        scheduler: partial LR scheduler taking the optimizer, stepped each epoch; None for a constant LR.
        loss: loss on (logits, targets); BCE when None.
        input: the input contract (``model.input``): modality, size or sample count, normalisation, clip length.
            Stored as a plain dict in the checkpoint's hyperparameters.
        video_aggregation: how frame scores become a video score: ``mean``, ``max`` or ``topk_mean``.
        top_k: frames used by ``topk_mean``.
        threshold: decision threshold on the fake probability; None selects it on the validation split each epoch
            (the equal-error point of the frame scores), so the best checkpoint carries its own. Metrics at 0.5 are
            reported beside it.
        channels_last: keep the network and inputs in NHWC memory format (faster convolutions on GPUs with mixed
            precision).
        compile: run the network through ``torch.compile`` (weights and checkpoints are unchanged).
        head: for clip models, a partial temporal head taking ``in_features`` (see :mod:`dfdet.models.heads`);
            inputs are then clips (B, T, 3, H, W) and each clip gets one logit. None: frame model.
        tuning: a tuning strategy (``model/tuning=...``, see :mod:`dfdet.models.tuning`) applied to ``net`` once,
            here: it chooses what trains and may add loss terms (:meth:`tuning_losses`). None: everything trains.
        grad_checkpointing: recompute each block's activations in backward instead of keeping them (timm's
            ``set_grad_checkpointing``): less training memory for one more forward pass per block. Outputs and
            gradients are unchanged; weights and checkpoints too.
    """

    threshold: torch.Tensor  # buffer: the decision threshold (chosen on validation unless fixed)
    temperature: torch.Tensor  # buffer: probabilities are sigmoid(logit / temperature); fitted by calibrate()
    uncertain_band: torch.Tensor  # buffer (2,): [low, high) of the uncertain verdict; nan: none (see calibrate())
    net: nn.Module
    loss_fn: nn.Module
    head: nn.Module | None
    eval_metrics: nn.ModuleDict  # stage -> DetectionMetrics; typed access through stage_metrics()
    _compiled_net: nn.Module | None  # torch.compile'd self.net (an OptimizedModule), not a registered submodule

    def __init__(
        self,
        net: nn.Module,
        optimizer: OptimizerFactory,
        scheduler: SchedulerFactory | None = None,
        loss: nn.Module | None = None,
        input: InputContract | Mapping[str, Any] | None = None,
        video_aggregation: str = "mean",
        top_k: int = 5,
        threshold: float | None = None,
        channels_last: bool = False,
        compile: bool = False,
        head: Callable[[int], nn.Module] | None = None,
        tuning: Tuning | None = None,
        grad_checkpointing: bool = False,
    ) -> None:
        super().__init__()
        if input is None:
            input = InputContract(modality="face", size=224)
        self.contract = input if isinstance(input, InputContract) else InputContract.from_dict(input)
        if head is not None and self.contract.modality == "audio_visual":
            raise ContractError("audio-visual networks take the clip and the sound whole: no model/head for them")
        if head is not None and self.contract.clip_len is None:
            raise ContractError("a temporal head needs clips: set model.input.clip_len (model/head=... does)")
        if head is None and self.contract.clip_len is not None and self.contract.modality != "audio_visual":
            raise ContractError("model.input.clip_len is set but the model has no temporal head (model/head=none)")
        self.save_hyperparameters(ignore=["net", "optimizer", "scheduler", "loss", "head", "input", "tuning"])
        self.hparams["input"] = self.contract.to_dict()  # plain types: checkpoints load with weights_only=True
        self.tuning = tuning
        self.net = tuning(net) if tuning is not None else net
        if grad_checkpointing:
            _enable_grad_checkpointing(self.net)
        self.head = head(int(cast(TimmNet, net).num_features)) if head is not None else None
        self.optimizer_factory = optimizer
        self.scheduler_factory = scheduler
        self.loss_fn = loss if loss is not None else BinaryCrossEntropy()
        self.fixed_threshold = threshold
        self.register_buffer("threshold", torch.tensor(0.5 if threshold is None else float(threshold)))
        self.register_buffer("temperature", torch.tensor(1.0))
        self.register_buffer("uncertain_band", torch.full((2,), float("nan")))
        # Checkpoints written before calibration lack the last two buffers: they load with these defaults.
        self._register_load_state_dict_pre_hook(self._default_calibration)
        self.eval_metrics = nn.ModuleDict({s: DetectionMetrics(video_aggregation, top_k) for s in ("val", "test")})
        self.predictions: dict[str, dict[str, torch.Tensor]] = {}  # last epoch's rows per stage, on the CPU
        self.run_config: dict[str, Any] | None = None  # the resolved training config, stored in checkpoints
        self.channels_last = channels_last
        if channels_last:
            self.net.to(memory_format=torch.channels_last)
        # Not registered as a submodule, so state_dict keys and checkpoints stay those of the plain network.
        object.__setattr__(self, "_compiled_net", torch.compile(self.net) if compile else None)

    def forward(self, x: torch.Tensor | dict[str, torch.Tensor]) -> torch.Tensor:
        """Args: x normalised images (B, 3, H, W), clips (B, T, 3, H, W) with a head, waveforms (B, N) for audio
        networks, or ``{"clip": ..., "audio": ...}`` for audio-visual ones (the contract's layout). Returns logits
        (B,)."""
        if isinstance(x, dict):
            return self.net(x).reshape(len(next(iter(x.values()))))
        batch = x.shape[0]
        if self.head is not None:
            x = x.flatten(0, 1)  # (B * T, 3, H, W)
        if self.channels_last and x.ndim == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        net = self._compiled_net if self._compiled_net is not None else self.net
        if self.head is None:
            return net(x).reshape(batch)
        features = cast(TimmNet, net).forward_features(x)
        feats = cast(TimmNet, self.net).forward_head(features, pre_logits=True)  # (B * T, D)
        return self.head(feats.reshape(batch, -1, feats.shape[-1])).reshape(batch)

    def setup(self, stage: str) -> None:
        # Duck-typed: any loss with set_class_counts(), any datamodule with class_counts() and methods().
        datamodule: Any = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        if stage == "fit" and hasattr(self.loss_fn, "set_class_counts") and hasattr(datamodule, "class_counts"):
            cast(Any, self.loss_fn).set_class_counts(*datamodule.class_counts())
        if hasattr(datamodule, "methods"):
            self.set_methods(datamodule.methods())
        if hasattr(datamodule, "subsets"):
            self.set_subsets(datamodule.subsets())

    def set_subsets(self, subsets: Any) -> None:
        """The subset (e.g. generator) of each ``video_idx``, or None: val/test metrics then add per-subset real,
        fake and mean accuracy and AP (``<stage>/acc_<subset>``, ..., ``<stage>/mean_acc``)."""
        for stage in self.eval_metrics:
            self.stage_metrics(stage).set_subsets(subsets)

    def set_methods(self, methods: Any) -> None:
        """The method (``real`` or attack id) of each ``video_idx``: val/test metrics then add each attack's EER
        (``<stage>/eer_<attack>``)."""
        for stage in self.eval_metrics:
            self.stage_metrics(stage).set_methods(methods)

    def on_train_epoch_start(self) -> None:
        # Frozen layers (fine-tuning with freeze_backbone) keep their batch-norm statistics too.
        for module in self.net.modules():
            if isinstance(module, nn.modules.batchnorm._BatchNorm):
                params = list(module.parameters(recurse=False))
                if params and not any(p.requires_grad for p in params):
                    module.eval()

    def set_crop_margin(self, margin: float) -> None:
        """Records the face box margin of the training crops in the contract (and the stored hyper-parameters).

        Raises:
            ContractError: the contract already names another margin.
        """
        recorded = self.contract.crop_margin
        if recorded is not None and abs(recorded - margin) > 1e-9:
            raise ContractError(
                f"model.input.crop_margin={recorded:g} but the data was cropped with margin {margin:g} "
                "(preprocess.json): set model.input.crop_margin=null or to the data's margin"
            )
        self.contract = dataclasses.replace(self.contract, crop_margin=float(margin))
        self.hparams["input"] = self.contract.to_dict()

    def inputs(self, batch: Mapping[str, torch.Tensor]) -> torch.Tensor | dict[str, torch.Tensor]:
        """The batch entries this model consumes (its contract's ``input_keys``): one tensor, or a dict of several,
        with one clear error when the data does not give them."""
        keys = self.contract.input_keys
        missing = [k for k in keys if k not in batch]
        if missing:
            named = sorted(k for k in batch if k not in ("label", "video_idx", "frame_index"))
            raise ContractError(
                f"the model reads batch {list(keys)} ({self.contract.modality} input) but the data gives {named}"
            )
        return batch[keys[0]] if len(keys) == 1 else {k: batch[k] for k in keys}

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor | None:
        logits = self(self.inputs(batch))
        loss = self.loss_fn(logits, batch["label"])
        for name, term in self.tuning_losses(batch["label"]).items():
            self.log(f"train/{name}", term, on_step=True, on_epoch=True, batch_size=len(logits))
            loss = loss + term
        auxiliary = getattr(self.net, "auxiliary_losses", None)  # e.g. per-modality heads of audio-visual networks
        for name, term in (auxiliary(batch) if callable(auxiliary) else {}).items():
            self.log(f"train/{name}", term, on_step=True, on_epoch=True, batch_size=len(logits))
            loss = loss + term
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=len(logits))
        return loss

    def tuning_losses(self, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """The tuning strategy's extra loss terms for the last training batch (weighted; added to the loss)."""
        return self.tuning.losses(self.net, labels) if self.tuning is not None else {}

    def stage_metrics(self, stage: str) -> DetectionMetrics:
        """The metrics of ``stage`` (``val`` or ``test``): ``eval_metrics[stage]``, typed."""
        return cast(DetectionMetrics, self.eval_metrics[stage])

    def _eval_step(self, stage: str, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        logits = self(self.inputs(batch))
        loss = self.loss_fn(logits, batch["label"])
        self.log(f"{stage}/loss", loss, on_epoch=True, prog_bar=stage == "val", batch_size=len(logits), sync_dist=True)
        probs = torch.sigmoid(logits.float() / self.temperature)
        self.stage_metrics(stage).update(probs, batch["label"], batch["video_idx"], batch.get("frame_index"))
        return probs

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._eval_step("val", batch)

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._eval_step("test", batch)

    def _log_epoch(self, stage: str) -> None:
        metric = self.stage_metrics(stage)
        if stage == "val" and self.fixed_threshold is None and not self.trainer.sanity_checking:
            selected = metric.select_threshold()
            if torch.isfinite(selected):
                self.threshold.fill_(float(selected))
        values = {f"{stage}/{k}": v.float() for k, v in metric.compute(float(self.threshold)).items()}
        self.log(f"{stage}/auc", values.pop(f"{stage}/auc"), prog_bar=True)
        self.log_dict(values)
        self.predictions[stage] = {k: v.cpu() for k, v in metric.rows().items()}
        metric.reset()

    def on_validation_epoch_end(self) -> None:
        self._log_epoch("val")

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test")

    def _default_calibration(self, state_dict: dict[str, Any], prefix: str, *args: Any) -> None:
        for name in ("temperature", "uncertain_band"):
            state_dict.setdefault(prefix + name, getattr(self, name).clone())

    def band(self) -> tuple[float, float] | None:
        """The uncertain band ``(low, high)`` on the calibrated probability, or None when none was fitted."""
        low, high = (float(v) for v in self.uncertain_band)
        return None if low != low or high != high else (low, high)  # nan: no band

    def calibrate(self, rows: Mapping[str, torch.Tensor], precision: float = 0.9) -> dict[str, float]:
        """Temperature scaling and the uncertain band, fitted on validation rows scored by this model.

        The temperature minimises the frame log-loss (:func:`~dfdet.metrics.calibration.fit_temperature`; logits
        are recovered from the stored float32 probabilities, so they saturate near +-16). The threshold moves with
        it (``sigmoid(logit(t) / T)``), so every decision stays the same and the threshold remains a threshold on
        the probability the model reports. The uncertain band is then fitted on the calibrated *video* scores
        (aggregated as this model aggregates, what prediction decides on) at ``precision``
        (:func:`~dfdet.metrics.calibration.uncertain_band`).

        Args:
            rows: ``preds`` (N,) probabilities at the current temperature, ``target``, ``video_idx`` (as
                :meth:`DetectionMetrics.rows` gives them, e.g. ``self.predictions["val"]``).
            precision: the validation precision each side's verdicts must reach.

        Returns:
            ``temperature``, ``threshold`` (moved), ``band_low``, ``band_high``.
        """
        p = rows["preds"].double().clamp(1e-7, 1 - 1e-7)
        logits = torch.log(p / (1 - p)) * float(self.temperature)
        temperature = fit_temperature(logits, rows["target"])
        threshold = scale_probability(float(self.threshold), temperature / float(self.temperature))
        calibrated = torch.sigmoid(logits / temperature)
        metric = self.stage_metrics("val")
        video_p, video_y, _ = aggregate_by_video(calibrated, rows["target"], rows["video_idx"], metric.aggregation,
                                                 metric.top_k)  # fmt: skip
        low, high = uncertain_band(video_p, video_y, threshold, precision)
        self.temperature.fill_(temperature)
        self.threshold.fill_(threshold)
        self.uncertain_band.copy_(torch.tensor([low, high]))
        return {"temperature": temperature, "threshold": threshold, "band_low": low, "band_high": high}

    def write_test_report(self, out_dir: Path, video_names: list[str], title: str) -> dict[str, Path]:
        """Writes ``predictions.csv``, ``roc.png`` and ``score_hist.png`` of the last test epoch into ``out_dir``, at
        this model's threshold and video aggregation; returns their paths."""
        metric = self.stage_metrics("test")
        return write_report(
            out_dir,
            self.predictions["test"],
            video_names,
            float(self.threshold),
            metric.aggregation,
            metric.top_k,
            title=title,
        )

    def configure_optimizers(self) -> Any:
        optimizer = self.optimizer_factory(self.parameters())
        if self.scheduler_factory is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": self.scheduler_factory(optimizer)}}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["dfdet"] = {"version": __version__, "config": self.run_config}
