"""MTCNN's three networks and detection cascade, with facenet-pytorch's weights, in torch alone.

A port of facenet-pytorch 2.5 (``models/mtcnn.py`` and ``models/utils/detect_face.py``, MIT licence, Tim Esler):
same networks, same weights (read from the facenet-pytorch wheel's ``data/*.pt``, whose package ``__init__`` is
never run), same arithmetic, hence the same boxes, scores and landmarks (tested against ``facenet_pytorch.MTCNN``).
The port exists for start-up time: facenet-pytorch's package imports torchvision (for ``batched_nms`` and the
face-extraction helpers), and torchvision imports ``torch._dynamo``, ~3 s per process on 2 CPU cores; the non-maximum
suppression here reproduces ``torchvision.ops.batched_nms``.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn.functional import interpolate


def weights_dir() -> Path:
    """facenet-pytorch's ``data`` folder (``pnet.pt``, ``rnet.pt``, ``onet.pt``), found without importing it."""
    spec = importlib.util.find_spec("facenet_pytorch")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("facenet-pytorch is not installed: its MTCNN weights are needed for face detection")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


class PNet(nn.Module):
    """Proposal network: (N, 3, H, W) -> box offsets (N, 4, h, w) and face probabilities (N, 2, h, w)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 10, kernel_size=3), nn.PReLU(10)
        self.pool1 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(10, 16, kernel_size=3), nn.PReLU(16)
        self.conv3, self.prelu3 = nn.Conv2d(16, 32, kernel_size=3), nn.PReLU(32)
        self.conv4_1, self.conv4_2 = nn.Conv2d(32, 2, kernel_size=1), nn.Conv2d(32, 4, kernel_size=1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return self.conv4_2(x), torch.softmax(self.conv4_1(x), dim=1)


class RNet(nn.Module):
    """Refinement network on 24 x 24 crops: box offsets (N, 4) and face probabilities (N, 2)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 28, kernel_size=3), nn.PReLU(28)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(28, 48, kernel_size=3), nn.PReLU(48)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = nn.Conv2d(48, 64, kernel_size=2), nn.PReLU(64)
        self.dense4, self.prelu4 = nn.Linear(576, 128), nn.PReLU(128)
        self.dense5_1, self.dense5_2 = nn.Linear(128, 2), nn.Linear(128, 4)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.prelu3(self.conv3(x)).permute(0, 3, 2, 1).contiguous()
        x = self.prelu4(self.dense4(x.view(x.shape[0], -1)))
        return self.dense5_2(x), torch.softmax(self.dense5_1(x), dim=1)


class ONet(nn.Module):
    """Output network on 48 x 48 crops: box offsets (N, 4), landmarks (N, 10: 5 x then 5 y), probabilities (N, 2)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = nn.Conv2d(3, 32, kernel_size=3), nn.PReLU(32)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2, self.prelu2 = nn.Conv2d(32, 64, kernel_size=3), nn.PReLU(64)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv3, self.prelu3 = nn.Conv2d(64, 64, kernel_size=3), nn.PReLU(64)
        self.pool3 = nn.MaxPool2d(2, 2, ceil_mode=True)
        self.conv4, self.prelu4 = nn.Conv2d(64, 128, kernel_size=2), nn.PReLU(128)
        self.dense5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)
        self.dense6_1, self.dense6_2, self.dense6_3 = nn.Linear(256, 2), nn.Linear(256, 4), nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.pool1(self.prelu1(self.conv1(x)))
        x = self.pool2(self.prelu2(self.conv2(x)))
        x = self.pool3(self.prelu3(self.conv3(x)))
        x = self.prelu4(self.conv4(x)).permute(0, 3, 2, 1).contiguous()
        x = self.prelu5(self.dense5(x.view(x.shape[0], -1)))
        return self.dense6_2(x), self.dense6_3(x), torch.softmax(self.dense6_1(x), dim=1)


def _load(net: nn.Module, name: str, device: torch.device) -> nn.Module:
    state = torch.load(weights_dir() / f"{name}.pt", map_location="cpu", weights_only=True)
    net.load_state_dict(state)
    return net.to(device).eval()


def nms(boxes: torch.Tensor, scores: torch.Tensor, threshold: float) -> torch.Tensor:
    """``torchvision.ops.nms``: indices of the kept boxes, highest score first (IoU > ``threshold`` suppressed)."""
    order = torch.sort(scores, stable=True, descending=True)[1].numpy()
    b = boxes.detach().cpu().numpy()
    x1, y1, x2, y2 = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    areas = (x2 - x1) * (y2 - y1)
    suppressed = np.zeros(len(b), bool)
    keep = []
    for pos, i in enumerate(order):
        if suppressed[i]:
            continue
        keep.append(i)
        rest = order[pos + 1 :]
        w = np.maximum(np.float32(0), np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
        h = np.maximum(np.float32(0), np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
        inter = w * h
        suppressed[rest[inter / (areas[i] + areas[rest] - inter) > threshold]] = True
    return torch.as_tensor(np.asarray(keep, np.int64))


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, idxs: torch.Tensor, threshold: float) -> torch.Tensor:
    """``torchvision.ops.batched_nms``: NMS within each value of ``idxs`` (the image), highest score first."""
    if boxes.numel() == 0:
        return torch.empty((0,), dtype=torch.int64)
    if boxes.numel() > 4000:  # torchvision's loop over the images
        keep_mask = torch.zeros_like(scores, dtype=torch.bool)
        for image in torch.unique(idxs):
            members = torch.where(idxs == image)[0]
            keep_mask[members[nms(boxes[members], scores[members], threshold)]] = True
        kept = torch.where(keep_mask)[0]
        return kept[scores[kept].sort(descending=True)[1]]
    offsets = idxs.to(boxes) * (boxes.max() + torch.tensor(1).to(boxes))  # torchvision's offset trick
    return nms(boxes + offsets[:, None], scores, threshold)


def batched_nms_min(boxes: torch.Tensor, scores: torch.Tensor, idxs: torch.Tensor, threshold: float) -> torch.Tensor:
    """facenet's final NMS within each image: overlap as intersection over the smaller box, pixel-inclusive areas."""
    if boxes.numel() == 0:
        return torch.empty((0,), dtype=torch.int64)
    offsets = idxs.to(boxes) * (boxes.max() + 1)
    b, s = (boxes + offsets[:, None]).numpy(), scores.numpy()
    x1, y1, x2, y2 = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    area = (x2 - x1 + 1) * (y2 - y1 + 1)
    order = np.argsort(s)
    pick = []
    while order.size > 0:
        i, rest = order[-1], order[:-1]
        pick.append(i)
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1)
        order = rest[np.where(w * h / np.minimum(area[i], area[rest]) <= threshold)]
    return torch.as_tensor(np.asarray(pick, np.int64))


def _normalise(x: torch.Tensor) -> torch.Tensor:
    return (x - 127.5) * 0.0078125


def _boxes_from_pnet(
    reg: torch.Tensor, probs: torch.Tensor, scale: float, threshold: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Candidate boxes (K, 9: x1 y1 x2 y2 score, 4 offsets) of the 12-px cells above ``threshold``, and their images."""
    reg = reg.permute(1, 0, 2, 3)
    mask = probs >= threshold
    cells = mask.nonzero()
    bb = cells[:, 1:].type(reg.dtype).flip(1)
    q1 = ((2 * bb + 1) / scale).floor()
    q2 = ((2 * bb + 12) / scale).floor()
    return torch.cat([q1, q2, probs[mask].unsqueeze(1), reg[:, mask].permute(1, 0)], dim=1), cells[:, 0]


def _square(boxes: torch.Tensor) -> torch.Tensor:
    """Boxes made square around their centres (side: the longer side), in place."""
    h, w = boxes[:, 3] - boxes[:, 1], boxes[:, 2] - boxes[:, 0]
    side = torch.max(w, h)
    boxes[:, 0] = boxes[:, 0] + w * 0.5 - side * 0.5
    boxes[:, 1] = boxes[:, 1] + h * 0.5 - side * 0.5
    boxes[:, 2:4] = boxes[:, :2] + side.repeat(2, 1).permute(1, 0)
    return boxes


def _regress(boxes: torch.Tensor, reg: torch.Tensor) -> torch.Tensor:
    """Boxes moved by the regressed offsets (fractions of the pixel-inclusive width and height), in place."""
    w = boxes[:, 2] - boxes[:, 0] + 1
    h = boxes[:, 3] - boxes[:, 1] + 1
    moved = [boxes[:, 0] + reg[:, 0] * w, boxes[:, 1] + reg[:, 1] * h, boxes[:, 2] + reg[:, 2] * w]
    boxes[:, :4] = torch.stack([*moved, boxes[:, 3] + reg[:, 3] * h]).permute(1, 0)
    return boxes


def _crops(images: torch.Tensor, boxes: torch.Tensor, image_inds: torch.Tensor, size: int) -> torch.Tensor:
    """The boxes' pixels (clipped to the image), each resized to ``size`` x ``size`` by area averaging."""
    h, w = images.shape[2:4]
    b = boxes.trunc().int().numpy()
    x, y = np.maximum(b[:, 0], 1), np.maximum(b[:, 1], 1)
    ex, ey = np.minimum(b[:, 2], w), np.minimum(b[:, 3], h)
    crops = [
        interpolate(
            images[image_inds[k], :, y[k] - 1 : ey[k], x[k] - 1 : ex[k]].unsqueeze(0), (size, size), mode="area"
        )
        for k in range(len(b))
        if ey[k] > y[k] - 1 and ex[k] > x[k] - 1
    ]
    return _normalise(torch.cat(crops, dim=0))


class Mtcnn:
    """MTCNN detection (proposal, refinement, output stages), as ``facenet_pytorch.MTCNN.detect`` computes it.

    Args:
        min_face_size: smallest face searched, in pixels.
        thresholds: face-probability thresholds of the three stages.
        factor: scale step of the image pyramid.
        device: torch device of the networks.
    """

    def __init__(
        self,
        min_face_size: int = 20,
        thresholds: Sequence[float] = (0.6, 0.7, 0.7),
        factor: float = 0.709,
        device: torch.device | str = "cpu",
    ) -> None:
        self.min_face_size, self.thresholds, self.factor = min_face_size, list(thresholds), factor
        self.device = torch.device(device)
        self.pnet = _load(PNet(), "pnet", self.device)
        self.rnet = _load(RNet(), "rnet", self.device)
        self.onet = _load(ONet(), "onet", self.device)

    def scales(self, height: int, width: int) -> list[float]:
        """The image pyramid: scales at which a ``min_face_size`` face is 12 px, down to a 12-px image."""
        scale, smallest = 12.0 / self.min_face_size, min(height, width) * 12.0 / self.min_face_size
        out = []
        while smallest >= 12:
            out.append(scale)
            scale, smallest = scale * self.factor, smallest * self.factor
        return out

    @torch.no_grad()
    def detect(self, frames: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Faces in each of (N, H, W, 3) uint8 RGB frames: per frame, boxes (K, 5: x1 y1 x2 y2 probability) and
        landmarks (K, 5, 2), in the order of facenet-pytorch (not sorted by probability)."""
        images = torch.as_tensor(frames.copy(), device=self.device).permute(0, 3, 1, 2).float()
        boxes, image_inds = self._propose(images)
        if len(boxes) > 0:
            reg, probs = self.rnet(_crops(images, boxes, image_inds, 24))
            keep = probs[:, 1] > self.thresholds[1]
            boxes = torch.cat((boxes[keep, :4], probs[keep, 1].unsqueeze(1)), dim=1)
            image_inds, reg = image_inds[keep], reg[keep]
            pick = batched_nms(boxes[:, :4], boxes[:, 4], image_inds, 0.7)
            boxes = _square(_regress(boxes[pick], reg[pick]))
            image_inds = image_inds[pick]
        points = torch.zeros(0, 5, 2)
        if len(boxes) > 0:
            reg, marks, probs = self.onet(_crops(images, boxes, image_inds, 48))
            keep = probs[:, 1] > self.thresholds[2]
            boxes = torch.cat((boxes[keep, :4], probs[keep, 1].unsqueeze(1)), dim=1)
            image_inds, reg, marks = image_inds[keep], reg[keep], marks[keep].permute(1, 0)
            w_i, h_i = boxes[:, 2] - boxes[:, 0] + 1, boxes[:, 3] - boxes[:, 1] + 1
            points_x = w_i.repeat(5, 1) * marks[:5, :] + boxes[:, 0].repeat(5, 1) - 1
            points_y = h_i.repeat(5, 1) * marks[5:10, :] + boxes[:, 1].repeat(5, 1) - 1
            points = torch.stack((points_x, points_y)).permute(2, 1, 0)
            boxes = _regress(boxes, reg)
            pick = batched_nms_min(boxes[:, :4], boxes[:, 4], image_inds, 0.7)
            boxes, image_inds, points = boxes[pick], image_inds[pick], points[pick]
        boxes_np, points_np, inds = boxes.cpu().numpy(), points.cpu().numpy(), image_inds.cpu().numpy()
        return [(boxes_np[inds == i].copy(), points_np[inds == i].copy()) for i in range(len(frames))]

    def _propose(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """First stage: PNet over the pyramid, NMS per scale and image then per image, offsets applied, squared."""
        h, w = images.shape[2:4]
        boxes, image_inds = [torch.zeros(0, 9)], [torch.zeros(0, dtype=torch.int64)]
        for scale in self.scales(h, w):
            data = _normalise(interpolate(images, size=(int(h * scale + 1), int(w * scale + 1)), mode="area"))
            reg, probs = self.pnet(data)
            found, inds = _boxes_from_pnet(reg, probs[:, 1], scale, self.thresholds[0])
            pick = batched_nms(found[:, :4], found[:, 4], inds, 0.5)
            boxes.append(found[pick])
            image_inds.append(inds[pick])
        found, inds = torch.cat(boxes, dim=0), torch.cat(image_inds, dim=0)
        pick = batched_nms(found[:, :4], found[:, 4], inds, 0.7)
        found, inds = found[pick], inds[pick]
        regw, regh = found[:, 2] - found[:, 0], found[:, 3] - found[:, 1]
        moved = [found[:, 0] + found[:, 5] * regw, found[:, 1] + found[:, 6] * regh, found[:, 2] + found[:, 7] * regw]
        found = torch.stack([*moved, found[:, 3] + found[:, 8] * regh, found[:, 4]]).permute(1, 0)
        return _square(found), inds
