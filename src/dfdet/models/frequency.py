"""Frequency-domain detectors.

- :class:`SpectrumFeatures` / :func:`azimuthal_average`: the 1-D power spectrum of Durall et al. (CVPR 2020,
  "Watch your Up-Convolution"): log power of the 2-D FFT of the grey image, averaged over rings of equal frequency.
- :class:`SpectrumClassifier` + :class:`SpectrumDetector`: that classical baseline, a logistic regression fitted by
  scikit-learn on the training features (``model=spectrum``), kept as torch buffers so it checkpoints, evaluates and
  exports like any other network.
- :class:`FrequencyFusionNet`: an RGB timm backbone fused with a log-magnitude spectrum branch (``model=freq_fusion``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import torch
from lightning.pytorch.core.optimizer import LightningOptimizer
from sklearn.linear_model import LogisticRegression
from torch import nn

from dfdet.models.backbone import build_backbone
from dfdet.models.detector import DeepfakeDetector, TimmNet

_GREY = (0.299, 0.587, 0.114)


def log_spectrum(x: torch.Tensor) -> torch.Tensor:
    """Centred log-magnitude spectrum of the grey image. Args: x (B, 3, H, W). Returns (B, 1, H, W)."""
    grey = (x * x.new_tensor(_GREY).view(1, 3, 1, 1)).sum(1, keepdim=True)
    spec = torch.fft.fftshift(torch.fft.fft2(grey.float()), dim=(-2, -1))
    return torch.log1p(spec.abs())


def azimuthal_average(spectrum: torch.Tensor, bins: int) -> torch.Tensor:
    """Mean of a centred spectrum (B, 1, H, W) over ``bins`` rings of equal radius. Returns (B, bins)."""
    h, w = spectrum.shape[-2:]
    ys, xs = torch.meshgrid(
        torch.arange(h, device=spectrum.device), torch.arange(w, device=spectrum.device), indexing="ij"
    )
    radius = torch.sqrt((ys - h // 2).float() ** 2 + (xs - w // 2).float() ** 2)
    ring = (radius / radius.max() * (bins - 1)).round().long().flatten()
    flat = spectrum.flatten(1)
    sums = torch.zeros(flat.shape[0], bins, device=flat.device).index_add_(1, ring, flat)
    counts = torch.bincount(ring, minlength=bins).clamp(min=1)
    return sums / counts


class SpectrumClassifier(nn.Module):
    """Azimuthally averaged log spectrum -> standardisation -> linear logit; weights come from :meth:`fit`.

    Args:
        bins: rings of the 1-D spectrum.
        C: inverse regularisation strength of the logistic regression.
    """

    mean: torch.Tensor
    scale: torch.Tensor
    coef: torch.Tensor
    intercept: torch.Tensor

    def __init__(self, bins: int = 48, C: float = 1.0) -> None:
        super().__init__()
        self.bins, self.C = bins, C
        self.num_features = bins
        self.register_buffer("mean", torch.zeros(bins))
        self.register_buffer("scale", torch.ones(bins))
        self.register_buffer("coef", torch.zeros(bins))
        self.register_buffer("intercept", torch.zeros(()))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x (B, 3, H, W). Returns the 1-D spectra (B, bins)."""
        return azimuthal_average(log_spectrum(x), self.bins)

    def fit(self, feats: torch.Tensor, labels: torch.Tensor) -> None:
        """Fits the logistic regression (scikit-learn, lbfgs) on features (N, bins) and labels (N,)."""
        mean, scale = feats.mean(0), feats.std(0).clamp(min=1e-6)
        clf = LogisticRegression(C=self.C, max_iter=5000).fit(
            ((feats - mean) / scale).cpu().numpy(), labels.cpu().numpy()
        )
        self.mean.copy_(mean)
        self.scale.copy_(scale)
        self.coef.copy_(torch.as_tensor(clf.coef_[0], dtype=torch.float32))
        self.intercept.fill_(float(clf.intercept_[0]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x (B, 3, H, W). Returns logits (B, 1)."""
        z = (self.features(x) - self.mean) / self.scale
        return (z @ self.coef + self.intercept).unsqueeze(1)


class SpectrumDetector(DeepfakeDetector):
    """The classical baseline in the shared training loop: one pass collects training features, then scikit-learn
    fits the classifier; validation, testing, checkpoints and metrics are those of every detector."""

    net: SpectrumClassifier

    def __init__(self, net: SpectrumClassifier, **kwargs: Any) -> None:
        kwargs.setdefault("optimizer", None)
        # Plain types only: Lightning records this frame's kwargs as hyper-parameters in the checkpoint.
        kwargs = {k: tuple(v) if isinstance(v, Sequence) and not isinstance(v, str) else v for k, v in kwargs.items()}
        super().__init__(net, **kwargs)
        self.automatic_optimization = False
        # Lightning counts steps through an optimizer; this zero-lr one only advances the step counter that
        # checkpointing and logging rely on.
        self._step_counter = nn.Parameter(torch.zeros(()), requires_grad=False)
        self._feats: list[torch.Tensor] = []
        self._labels: list[torch.Tensor] = []

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        with torch.no_grad():
            self._feats.append(self.net.features(cast(torch.Tensor, self.inputs(batch))))
            self._labels.append(batch["label"])
        cast(LightningOptimizer, self.optimizers()).step()  # one optimizer (configure_optimizers)

    def on_validation_epoch_start(self) -> None:
        # The epoch's training batches are all seen once validation starts: fit, then validate the fitted model.
        if self._feats:
            self.net.fit(torch.cat(self._feats), torch.cat(self._labels))
            self._feats, self._labels = [], []
            self.trainer.should_stop = True  # the fit is closed-form: one epoch is enough

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD([self._step_counter], lr=0.0)


class FrequencyFusionNet(nn.Module):
    """RGB backbone + spectrum branch (a second timm model on the 1-channel log spectrum), fused by concatenation.

    Args:
        name: timm model for the RGB branch.
        freq_name: timm model for the spectrum branch.
        pretrained: ImageNet weights for the RGB branch (see :func:`~dfdet.models.backbone.build_backbone`).
        checkpoint_path: local weights for the RGB branch.
        drop_rate: dropout before the classifier.
    """

    def __init__(
        self,
        name: str,
        freq_name: str = "test_resnet",
        pretrained: bool = False,
        checkpoint_path: str | None = None,
        drop_rate: float = 0.0,
    ) -> None:
        super().__init__()
        self.rgb = build_backbone(name, pretrained, checkpoint_path, num_classes=0)
        self.freq = build_backbone(freq_name, num_classes=0, in_chans=1)
        self.num_features = int(cast(TimmNet, self.rgb).num_features + cast(TimmNet, self.freq).num_features)
        self.head = nn.Sequential(nn.Dropout(drop_rate), nn.Linear(self.num_features, 1))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        spec = log_spectrum(x)
        spec = (spec - spec.mean((-2, -1), keepdim=True)) / spec.std((-2, -1), keepdim=True).clamp(min=1e-6)
        return torch.cat([self.rgb(x), self.freq(spec)], dim=1)

    def forward_head(self, feats: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return feats if pre_logits else self.head(feats)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x (B, 3, H, W). Returns logits (B, 1)."""
        return self.head(self.forward_features(x))

    def get_classifier(self) -> nn.Module:
        return self.head
