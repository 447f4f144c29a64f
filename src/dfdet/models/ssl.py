"""Self-supervised speech front-ends (wav2vec 2.0 / XLS-R, WavLM, HuBERT through ``transformers``) with light
back-ends for spoofing detection. ``transformers`` is imported only here.

:class:`SSLDetector` = :class:`SSLFrontend` (waveform (B, T) -> hidden states of the chosen layers (B, L, T', D))
+ a back-end ((B, L, T', D) -> (B, 1) fake logit), one module from samples to logit (it exports as one graph):

- :class:`LinearBackend`: softmax-weighted sum of the layers, mean over time, linear (the SUPERB recipe).
- :class:`AASISTBackend`: Tak et al., "Automatic speaker verification spoofing and deepfake detection using wav2vec
  2.0 and data augmentation", Odyssey 2022: a linear map of the features to 128 "sub-bands", AASIST's residual
  encoder without time pooling, attention-weighted spectral and temporal nodes and the AASIST graph
  (:class:`~dfdet.models.aasist.GraphBackend`).
- :class:`SLSBackend`: Zhang et al., "Audio Deepfake Detection with Self-Supervised XLS-R and SLS Classifier",
  ACM MM 2024: sensitive layer selection (a sigmoid weight per layer from its time-averaged features), the
  weighted sum of all layers, BN, SELU, 3x3 max-pool, two fully connected layers.
- :class:`MHFABackend`: Peng et al., "An attention-based backend allowing efficient fine-tuning of transformer
  models for speaker verification", SLT 2022 (multi-head factorised attentive pooling): keys and values as two
  softmax-weighted layer sums, compressed, per-head attention over time from the keys, pooled values, linear.

The front-end's weights come from the local Hugging Face hub cache or a local folder (never downloaded here);
``config`` builds the same model class randomly initialised (tests use tiny ones). Frozen or fine-tuned:
``freeze`` (the back-end alone trains), or ``model/tuning=lora`` (the back-end is the classifier that trains
beside the adapters, see :mod:`dfdet.models.tuning`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from dfdet.errors import ModelConfigError
from dfdet.models.aasist import GraphBackend, build_encoder


def load_ssl_model(name: str | None, config: Mapping[str, Any] | None = None) -> Any:
    """A ``transformers`` speech model by hub name or local folder, offline; or randomly initialised from ``config``.

    Args:
        name: hub id (``facebook/wav2vec2-xls-r-300m``, ``microsoft/wavlm-base-plus``, ``facebook/hubert-base-ls960``)
            found in the local hub cache, or a folder with ``config.json`` and the weights.
        config: ``model_type`` (``wav2vec2``, ``wavlm``, ``hubert``) and the config's keys: a new random model.

    Raises:
        ModelConfigError: neither given, or the weights are not on this machine (one line saying where to put them).
    """
    from omegaconf import OmegaConf
    from transformers import AutoConfig, AutoModel

    if config is not None:  # plain lists and dicts: transformers' configs validate their field types
        settings = dict(OmegaConf.to_container(config) if OmegaConf.is_config(config) else config)  # type: ignore[arg-type]
        return AutoModel.from_config(AutoConfig.for_model(settings.pop("model_type"), **settings))
    if not name:
        raise ModelConfigError("model.net.frontend needs name (a hub id or a local folder) or config")
    try:
        return AutoModel.from_pretrained(name, local_files_only=True)
    except (OSError, ValueError) as exc:
        detail = str(exc).splitlines()[0][:160]
        raise ModelConfigError(
            f"Pretrained weights for '{name}' are not reachable ({detail}). Put them in the Hugging Face hub cache "
            f"(HF_HOME, e.g. `huggingface-cli download {name}` on a machine with internet, then copy the cache), or "
            "pass a local folder with model.net.frontend.name=/path/to/folder (config.json and model.safetensors)."
        ) from None


class SSLFrontend(nn.Module):
    """Hidden states of a self-supervised speech model.

    Args:
        name: hub id or local folder (see :func:`load_ssl_model`).
        config: a random model of this configuration instead (tests).
        layers: hidden-state indices to keep (0: the feature projection's output, i: transformer layer i; negative
            from the end); None keeps all.
        freeze: the SSL weights do not train (and their dropout stays off).
        normalise: zero mean, unit variance per utterance (what the models' feature extractors do).
        sample_rate: of the input (16 kHz for every model here).
        spec_augment: the model's own time/feature masking while training (off by default).

    LayerDrop is turned off: a skipped layer has no hidden state for the back-end to read.

    Shapes: (B, T) -> (B, L, T', D); ``num_layers`` L, ``dim`` D, ``frames(T)`` T'.
    """

    def __init__(
        self,
        name: str | None = None,
        config: Mapping[str, Any] | None = None,
        layers: Sequence[int] | None = None,
        freeze: bool = False,
        normalise: bool = True,
        sample_rate: int = 16000,
        spec_augment: bool = False,
    ) -> None:
        super().__init__()
        self.model: Any = load_ssl_model(name, config)  # a transformers PreTrainedModel
        self.model.config.apply_spec_augment = spec_augment
        self.model.config.layerdrop = 0.0  # LayerDrop would skip layers whose states the back-ends read
        total = int(self.model.config.num_hidden_layers) + 1
        chosen = list(range(total)) if layers is None else [int(i) % total for i in layers]
        if not chosen or len(set(chosen)) != len(chosen):
            raise ModelConfigError(f"model.net.frontend.layers={list(layers or [])}: choose distinct layers")
        self.layers = chosen
        self.freeze = freeze
        self.normalise = normalise
        self.sample_rate = sample_rate
        if freeze:
            self.model.requires_grad_(False)

    @property
    def num_layers(self) -> int:
        return len(self.layers)

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    def frames(self, num_samples: int) -> int:
        """T' for a T-sample input (the convolutional feature encoder's output length)."""
        return int(self.model._get_feat_extract_output_lengths(torch.tensor(num_samples)))

    def train(self, mode: bool = True) -> SSLFrontend:
        super().train(mode)
        if self.freeze:
            self.model.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.normalise:
            x = (x - x.mean(dim=1, keepdim=True)) / torch.sqrt(x.var(dim=1, keepdim=True, unbiased=False) + 1e-7)
        hidden = self.model(x, output_hidden_states=True).hidden_states
        return torch.stack([hidden[i] for i in self.layers], dim=1)


class LayerSum(nn.Module):
    """Softmax-weighted sum over layers (weights start equal): (B, L, T, D) -> (B, T, D)."""

    def __init__(self, num_layers: int) -> None:
        super().__init__()
        self.weights = nn.Parameter(torch.zeros(num_layers))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bltd,l->btd", h, F.softmax(self.weights, dim=0))


class LinearBackend(nn.Module):
    """Weighted layer sum, mean over time, dropout, linear. Shapes: (B, L, T, D) -> (B, 1)."""

    def __init__(self, dim: int, num_layers: int, num_frames: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.layer_sum = LayerSum(num_layers)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(dim, 1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.head(self.drop(self.layer_sum(h).mean(dim=1)))


class AASISTBackend(nn.Module):
    """Tak et al. 2022's AASIST on SSL features (their released ``model.py``: 1024 -> 128 linear, 3x3 max-pool, BN,
    SELU, six residual blocks of widths 32, 32, 64, 64, 64, 64 without time pooling, BN, SELU, attention nodes,
    graph pooling ratios 0.5). Several layers are first summed with softmax weights (Tak et al. use the last).

    Shapes: (B, L, T, D) -> (B, 1).
    """

    def __init__(
        self,
        dim: int,
        num_layers: int,
        num_frames: int,
        proj_dim: int = 128,
        encoder_channels: Sequence[int] = (32, 32, 64, 64, 64, 64),
        gat_dims: Sequence[int] = (64, 32),
        pool_ratios: Sequence[float] = (0.5, 0.5, 0.5, 0.5),
        temperatures: Sequence[float] = (2.0, 2.0, 100.0, 100.0),
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        self.layer_sum = LayerSum(num_layers)
        self.proj = nn.Linear(dim, proj_dim)
        self.first_bn = nn.BatchNorm2d(1)
        self.encoder = build_encoder(1, encoder_channels, pool_time=False)
        self.post_bn = nn.BatchNorm2d(int(encoder_channels[-1]))
        self.graph = GraphBackend(
            int(encoder_channels[-1]), proj_dim // 3, gat_dims, pool_ratios, temperatures, nodes="attention"
        )
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(self.graph.embed_dim, 1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        x = self.proj(self.layer_sum(h)).transpose(1, 2).unsqueeze(1)  # (B, 1, proj_dim, T)
        x = F.selu(self.first_bn(F.max_pool2d(x, 3)))
        x = F.selu(self.post_bn(self.encoder(x)))
        return self.head(self.drop(self.graph(x)))


class SLSBackend(nn.Module):
    """Zhang et al. 2024's sensitive layer selection classifier. Their last layers (SELU and log-softmax over two
    classes) are replaced by one logit.

    Args:
        dim, num_layers: of the front-end.
        num_frames: T of the features (the flattened map's size depends on it: fixed-length windows).
        hidden: width of the first fully connected layer (1024).

    Shapes: (B, L, T, D) -> (B, 1).
    """

    def __init__(self, dim: int, num_layers: int, num_frames: int, hidden: int = 1024) -> None:
        super().__init__()
        self.layer_score = nn.Linear(dim, 1)
        self.bn = nn.BatchNorm2d(1)
        self.fc1 = nn.Linear((num_frames // 3) * (dim // 3), hidden)
        self.head = nn.Linear(hidden, 1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        weights = torch.sigmoid(self.layer_score(h.mean(dim=2)))  # (B, L, 1): one weight per layer
        x = (h * weights.unsqueeze(-1)).sum(dim=1).unsqueeze(1)  # (B, 1, T, D)
        x = F.max_pool2d(F.selu(self.bn(x)), 3).flatten(1)
        return self.head(F.selu(self.fc1(x)))


class MHFABackend(nn.Module):
    """Peng et al.'s multi-head factorised attentive pooling, then a linear fake logit.

    Args:
        dim, num_layers: of the front-end.
        heads: attention heads (8 here; the paper varies it).
        compression: width of the compressed keys and values (128).
        embedding: width of the pooled projection (256).

    Shapes: (B, L, T, D) -> (B, 1).
    """

    def __init__(
        self, dim: int, num_layers: int, num_frames: int, heads: int = 8, compression: int = 128, embedding: int = 256
    ) -> None:
        super().__init__()
        self.keys, self.values = LayerSum(num_layers), LayerSum(num_layers)
        self.compress_k = nn.Linear(dim, compression)
        self.compress_v = nn.Linear(dim, compression)
        self.att_head = nn.Linear(compression, heads)
        self.pooling_fc = nn.Linear(heads * compression, embedding)
        self.head = nn.Linear(embedding, 1)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        k = self.compress_k(self.keys(h))  # (B, T, C)
        v = self.compress_v(self.values(h))  # (B, T, C)
        att = F.softmax(self.att_head(k), dim=1)  # (B, T, H): each head's weights over time
        pooled = torch.einsum("bth,btc->bhc", att, v).flatten(1)  # (B, H * C)
        return self.head(self.pooling_fc(pooled))


class SSLDetector(nn.Module):
    """A self-supervised front-end and a back-end.

    Args:
        frontend: :class:`SSLFrontend`.
        backend: a factory called with ``dim``, ``num_layers``, ``num_frames`` of the front-end (a Hydra
            ``_partial_`` of one of the back-ends above).
        num_samples: the window length (the input contract's), for back-ends whose size depends on it.

    Shapes: (B, T) -> (B, 1) logits.
    """

    def __init__(self, frontend: SSLFrontend, backend: Callable[..., nn.Module], num_samples: int = 64000) -> None:
        super().__init__()
        self.frontend = frontend
        self.backend = backend(
            dim=frontend.dim, num_layers=frontend.num_layers, num_frames=frontend.frames(num_samples)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.backend(self.frontend(x))

    def get_classifier(self) -> nn.Module:
        """The back-end: what trains beside the adapters under ``model/tuning=lora`` or alone under
        ``linear_probe`` (see :mod:`dfdet.models.tuning`)."""
        return self.backend
