"""A learned lip-sync model in the manner of SyncNet (Chung and Zisserman, "Out of time: automated lip sync in the
wild", ACCV workshops 2016), written from the paper, at configurable (small) width.

Two streams map a short window of each modality to a joint embedding space:

- the **visual stream** takes ``T`` = 5 consecutive frames (0.2 s at 25 fps) of the *mouth region* (cut from the
  face crops inside the network: rows ``mouth_box``, resized to ``mouth_size``), grey, stacked as channels (the
  paper's early fusion of the frames);
- the **audio stream** takes the 0.2 s of sound around the same instant as a log-mel image (the paper used 13
  MFCCs at 100 Hz, 13 x 20; here the project's :class:`~dfdet.models.frontends.LogMel`, ``n_mels`` x 20).

Training is contrastive (the paper's loss, Hadsell et al. 2006): on *real* clips the embedding of the in-sync sound
is pulled towards the video embedding (``d^2``) and sound shifted by at least ``min_negative_shift`` frames is pushed
beyond a margin (``max(margin - d, 0)^2``). The net receives a longer sound window (``num_samples`` >= 0.2 s plus
``max_offset`` frames on each side) and slides the 0.2-s audio window over ±``max_offset`` frames itself, so one item
gives its positive and all its negatives.

Outputs (:meth:`SyncNet.sync`): per offset the distance (B, 2K+1); the **offset** (frames, argmin of the distance;
positive = the sound comes later than the lips); the **confidence** (median minus minimum distance over the
offsets, the paper's measure); ``d0`` the in-sync distance. As a detector the network returns a fake logit from
these sync features (a linear layer trained with the detector's BCE), so ``model=syncnet`` trains, evaluates,
exports and predicts like any audio-visual model; per-window distances over a long video come from applying it
window by window (the audio-visual reader's clips, or prediction's).

Not verified against the paper's released weights (none can be downloaded here): the layer sizes are the
project's, the input geometry, the loss and the offset / confidence definitions follow the paper.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn


def _tower(channels_in: int, widths: Sequence[int], embedding: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    c = channels_in
    for k, w in enumerate(widths):
        layers += [nn.Conv2d(c, int(w), 3, padding=1), nn.BatchNorm2d(int(w)), nn.ReLU(inplace=True)]
        if k < len(widths) - 1:
            layers.append(nn.MaxPool2d(2, ceil_mode=True))
        c = int(w)
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, embedding))


class SyncNet(nn.Module):
    """Two-stream audio-visual sync network.

    Args:
        frontend: maps (N, samples) waveforms to (N, 1, n_mels, frames) (a :class:`~dfdet.models.frontends.LogMel`
            with a 10 ms hop gives 20 frames for 0.2 s).
        n_mels: the front-end's feature rows.
        sample_rate: of the sound, Hz (the contract's).
        fps: video frame rate the clips are sampled at (one offset step is one frame of sound).
        window_s: audio window of the sync measure in seconds (0.2 in the paper).
        max_offset: offsets searched, ±frames.
        frames: video frames per window (5 in the paper; the contract's ``clip_len``).
        mouth_box: (top, bottom, left, right) of the mouth region as fractions of the face crop.
        mouth_size: (height, width) the mouth region is resized to.
        widths: conv widths of each tower.
        embedding: joint embedding size.
        margin: contrastive margin.
        min_negative_shift: shifts (frames) closer to sync than this are not used as negatives (speech is smooth).
        contrastive_weight: weight of the contrastive loss in training.
    """

    def __init__(
        self,
        frontend: nn.Module,
        n_mels: int = 40,
        sample_rate: int = 16000,
        fps: float = 25.0,
        window_s: float = 0.2,
        max_offset: int = 15,
        frames: int = 5,
        mouth_box: Sequence[float] = (0.55, 0.95, 0.2, 0.8),
        mouth_size: Sequence[int] = (32, 48),
        widths: Sequence[int] = (32, 64, 128),
        embedding: int = 128,
        margin: float = 1.0,
        min_negative_shift: int = 2,
        contrastive_weight: float = 1.0,
    ) -> None:
        super().__init__()
        self.frontend = frontend
        self.window = int(round(window_s * sample_rate))
        self.step = float(sample_rate) / float(fps)
        self.max_offset, self.frames = int(max_offset), int(frames)
        self.mouth_box = tuple(float(v) for v in mouth_box)
        self.mouth_size = (int(mouth_size[0]), int(mouth_size[1]))
        self.visual = _tower(self.frames, widths, embedding)
        self.audio = _tower(1, widths, embedding)
        self.head = nn.Linear(4, 1)  # sync features -> fake logit
        self.margin, self.min_negative_shift = float(margin), int(min_negative_shift)
        self.contrastive_weight = float(contrastive_weight)
        self.n_mels = int(n_mels)
        self._last: torch.Tensor | None = None

    def needed_samples(self) -> int:
        """The sound window the contract must give (``model.input.num_samples``): 0.2 s plus the offsets."""
        return self.window + 2 * int(round(self.max_offset * self.step))

    def mouths(self, clip: torch.Tensor) -> torch.Tensor:
        """Face clips (B, T, 3, S, S) -> grey mouth regions stacked over time (B, T, h, w)."""
        side = int(clip.shape[-1])  # fixed by the contract (a constant in exported graphs)
        top, bottom, left, right = (int(round(f * side)) for f in self.mouth_box)
        mouth = clip[:, :, :, top:bottom, left:right].mean(dim=2)  # (B, T, h', w') grey
        return F.interpolate(mouth, size=self.mouth_size, mode="bilinear", align_corners=False)

    def audio_windows(self, audio: torch.Tensor) -> torch.Tensor:
        """Sound (B, N) centred on the clip -> the 0.2-s windows at each offset (B, 2K+1, window); offset k takes
        the sound k frames later than the clip's centre."""
        n = int(audio.shape[1])  # fixed by the contract
        if n < self.needed_samples():
            raise ValueError(
                f"SyncNet needs {self.needed_samples()} samples of sound (model.input.num_samples), got {n}"
            )
        centre = n // 2 - self.window // 2
        starts = [centre + int(round(k * self.step)) for k in range(-self.max_offset, self.max_offset + 1)]
        return torch.stack([audio[:, s : s + self.window] for s in starts], dim=1)

    def distances(self, x: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Euclidean distance between the video embedding and the sound's at every offset: (B, 2K+1)."""
        video = self.visual(self.mouths(x["clip"]))  # (B, E)
        windows = self.audio_windows(x["audio"])  # (B, O, w)
        b, o, w = windows.shape
        sound = self.audio(self.frontend(windows.reshape(b * o, w))).reshape(b, o, -1)
        return torch.sqrt(((sound - video[:, None, :]) ** 2).sum(dim=-1) + 1e-8)

    def sync(self, x: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The sync measure of each window: ``distances`` (B, 2K+1), ``offset`` (B,) frames, ``confidence`` (B,)
        (median minus minimum distance), ``d0`` (B,) the distance in sync."""
        d = self.distances(x)
        best, index = d.min(dim=1)
        median = d.sort(dim=1).values[:, self.max_offset]  # 2K+1 offsets: the middle one (sort exports to ONNX)
        offset = (index - self.max_offset).float()
        return {"distances": d, "offset": offset, "confidence": median - best, "d0": d[:, self.max_offset]}

    def forward(self, x: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Fake logits (B, 1) from the sync features (in-sync distance, best distance, confidence, |offset|)."""
        s = self.sync(x)
        d = s["distances"]
        feats = torch.stack([s["d0"], d.min(dim=1).values, s["confidence"], s["offset"].abs() / self.max_offset], 1)
        if self.training:
            self._last = d
        return self.head(feats)

    def auxiliary_losses(self, batch: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The contrastive loss on the real items of the last training batch (``label`` 0): in sync pulled together,
        shifted by ``min_negative_shift`` frames or more pushed beyond the margin."""
        d, self._last = self._last, None
        if d is None or self.contrastive_weight <= 0:
            return {}
        real = batch["label"] == 0
        if "audio_present" in batch:
            real = real & (batch["audio_present"] > 0)
        if not real.any():
            return {}
        d = d[real]
        shifts = torch.arange(-self.max_offset, self.max_offset + 1, device=d.device).abs()
        negatives = d[:, shifts >= self.min_negative_shift]
        loss = d[:, self.max_offset].pow(2).mean() + F.relu(self.margin - negatives).pow(2).mean()
        return {"contrastive_loss": self.contrastive_weight * loss}
