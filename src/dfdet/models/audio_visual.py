"""Joint audio-visual detectors: a face branch and an audio branch fused at mid level, trained end to end.

The face branch is any timm backbone applied per frame of a clip of face crops (its pooled features, one token per
frame); the audio branch is an audio network of :mod:`dfdet.models.audio` that yields per-frame embeddings
(:meth:`~dfdet.models.audio.LCNN.forward_frames`: one token per ~160 ms of sound). Both token sequences are
projected to ``dim`` and fused:

- ``concat``: each sequence mean-pooled, the two vectors concatenated (the late/mid fusion of the AV baselines of
  FakeAVCeleb, Khalid et al. 2021);
- ``cross_attention``: one block of bidirectional cross-modal attention (video tokens query the audio tokens and
  the reverse, residual and layer norm, as in the cross-modal transformers of Tsai et al. 2019, MulT), then pooled
  and concatenated. Written with plain matrix products so that the graph exports to ONNX (opset 17) unchanged.

Besides the fused fake logit the network has a video head and an audio head on the pooled branch features: with
per-modality labels (FakeAVCeleb's four categories, LAV-DF's and AV-Deepfake1M's ``modify_video`` /
``modify_audio``: batch keys ``video_label``, ``audio_label``, -1 where unknown) they add auxiliary losses
(:meth:`JointAudioVisualNet.auxiliary_losses`), and with segment labels (``segment_label``: does the clip overlap a
fake segment) the fused logit is also trained on the clip's own label, what temporal localisation needs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

FUSIONS = ("concat", "cross_attention")


class CrossAttention(nn.Module):
    """Multi-head attention of ``query`` tokens over ``context`` tokens, residual, then layer norm.

    Args:
        dim: token size.
        heads: attention heads (``dim`` divisible by it).
        dropout: on the attention output.

    Shapes: query (B, Q, dim), context (B, K, dim) -> (B, Q, dim).
    """

    def __init__(self, dim: int, heads: int = 4, dropout: float = 0.0) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"fusion dim {dim} must be divisible by heads {heads}")
        self.heads = heads
        self.q, self.k, self.v, self.out = (nn.Linear(dim, dim) for _ in range(4))
        self.norm = nn.LayerNorm(dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, query: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        h = self.heads
        d = query.shape[-1] // h

        def split(x: torch.Tensor) -> torch.Tensor:  # no batch size in the graph: it stays dynamic in exports
            return x.unflatten(-1, (h, d)).transpose(1, 2)  # (B, h, L, d)

        q, k, v = split(self.q(query)), split(self.k(context)), split(self.v(context))
        weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d), dim=-1)
        attended = (weights @ v).transpose(1, 2).flatten(2)  # (B, Q, dim)
        return self.norm(query + self.dropout(self.out(attended)))


class JointAudioVisualNet(nn.Module):
    """A face branch and an audio branch with mid-level fusion; three logits, the fused one returned.

    Args:
        face: a timm model built without classifier (``num_classes=0``): (N, 3, S, S) -> (N, F) pooled features
            (:func:`dfdet.models.build_backbone` with ``num_classes: 0``).
        audio: an audio network with ``forward_frames`` ((B, N) -> (B, frames, E), e.g.
            :class:`~dfdet.models.audio.LCNN`).
        fusion: ``concat`` or ``cross_attention``.
        dim: token size of the fusion.
        heads: attention heads (cross attention).
        dropout: before the heads.
        aux_weight: weight of the video and audio head losses (0 disables them).
        segment_weight: weight of the fused logit's loss on the clip's segment label (0 disables it).

    Shapes: ``{"clip": (B, T, 3, S, S), "audio": (B, N)}`` -> (B, 1) fused fake logits.
    """

    def __init__(
        self,
        face: nn.Module,
        audio: nn.Module,
        fusion: str = "concat",
        dim: int = 128,
        heads: int = 4,
        dropout: float = 0.1,
        aux_weight: float = 0.5,
        segment_weight: float = 1.0,
    ) -> None:
        super().__init__()
        if fusion not in FUSIONS:
            raise ValueError(f"model.net.fusion must be one of {', '.join(FUSIONS)}, got '{fusion}'")
        if not hasattr(audio, "forward_frames"):
            raise ValueError(f"the audio branch {type(audio).__name__} has no forward_frames (per-frame embeddings)")
        self.face, self.audio, self.fusion = face, audio, fusion
        face_dim = int(getattr(face, "num_features", 0)) or self._probe_face(face)
        with torch.no_grad():
            audio_dim = int(audio.forward_frames(torch.zeros(1, 16000)).shape[-1])  # type: ignore[operator]
        self.video_proj, self.audio_proj = nn.Linear(face_dim, dim), nn.Linear(audio_dim, dim)
        if fusion == "cross_attention":
            self.video_attends = CrossAttention(dim, heads, dropout)
            self.audio_attends = CrossAttention(dim, heads, dropout)
        self.dropout = nn.Dropout(dropout)
        self.fused_head = nn.Sequential(nn.Linear(2 * dim, dim), nn.GELU(), nn.Linear(dim, 1))
        self.video_head, self.audio_head = nn.Linear(dim, 1), nn.Linear(dim, 1)
        self.aux_weight, self.segment_weight = float(aux_weight), float(segment_weight)
        self._last: dict[str, torch.Tensor] = {}

    @staticmethod
    def _probe_face(face: nn.Module) -> int:
        with torch.no_grad():
            return int(face(torch.zeros(1, 3, 32, 32)).shape[-1])

    def tokens(self, x: Mapping[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Video tokens (B, T, dim), one per frame, and audio tokens (B, frames, dim)."""
        clip = x["clip"]
        b, t = clip.shape[:2]
        frames = self.face(clip.flatten(0, 1))  # (B * T, F)
        video = self.video_proj(frames.reshape(b, t, -1))
        sound = self.audio_proj(self.audio.forward_frames(x["audio"]))  # type: ignore[operator]
        if self.fusion == "cross_attention":
            video, sound = self.video_attends(video, sound), self.audio_attends(sound, video)
        return video, sound

    def forward(self, x: Mapping[str, torch.Tensor]) -> torch.Tensor:
        video, sound = self.tokens(x)
        v, a = self.dropout(video.mean(dim=1)), self.dropout(sound.mean(dim=1))
        fused = self.fused_head(torch.cat([v, a], dim=1))
        if self.training:  # what auxiliary_losses reads (the detector calls it right after this forward)
            self._last = {"fused": fused.reshape(-1), "video": self.video_head(v).reshape(-1),
                          "audio": self.audio_head(a).reshape(-1)}  # fmt: skip
        return fused

    def auxiliary_losses(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Weighted extra loss terms of the last training forward: ``video_loss`` and ``audio_loss`` (BCE of the
        branch heads on ``video_label`` / ``audio_label``) and ``segment_loss`` (BCE of the fused logit on
        ``segment_label``), each over the items whose label is known (>= 0); absent labels add nothing."""
        out: dict[str, torch.Tensor] = {}
        terms = (("video", "video_label", self.aux_weight), ("audio", "audio_label", self.aux_weight),
                 ("fused", "segment_label", self.segment_weight))  # fmt: skip
        for output, key, weight in terms:
            target = batch.get(key)
            if weight <= 0 or target is None or output not in self._last:
                continue
            known = target >= 0
            if known.any():
                logits = self._last[output][known]
                loss = F.binary_cross_entropy_with_logits(logits, target[known].float())
                out[f"{key.split('_')[0]}_loss"] = weight * loss
        self._last = {}
        return out
