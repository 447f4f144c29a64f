"""The built-in generated-image set: procedural "photos" against images of small randomly initialised generators.

Reals are procedural scenes with natural-image statistics: a 1/f (pink) luminance and colour field, 2-6 shapes with
anti-aliased edges and textures, an illumination gradient, rendered at twice the size and averaged down (optics and
sensor area), with signal-dependent camera noise.

Fakes come from :data:`GENERATORS`, each a small torch network with fixed random weights (seeded per generator, the
same in every split). Each is given the low-resolution content of another procedural scene (16 x 16, as a generator
learns coarse natural statistics well) and makes the detail:

- ``gan_tconv``: a decoder up-sampling twice with transposed convolutions (stride 2, kernel 4), StyleGAN2-like skip
  outputs: the periodic checkerboard traces of GANs;
- ``gan_upconv``: the same with nearest-neighbour up-sampling and a convolution (weaker, other periodic traces);
- ``diffusion_ddpm``: an iterative denoiser (8 steps, noise re-injected at a decreasing level): smooth,
  diffusion-like spectra;
- ``diffusion_few_step``: another denoiser, 3 steps.

So that trivial file features are no shortcut (see :mod:`dfdet.data.images.audit`): every image is a 64 x 64 JPEG
without EXIF, real and fake qualities are drawn from the same range, and each fake's detail is scaled so that its
JPEG has the size of a random real image at the same quality (file sizes follow one distribution). Splits have
disjoint scenes; each real belongs to a generator's ``subset`` (round robin), so per-generator metrics and
leave-one-generator-out splits have reals.
The set is generated once into a cache folder named by a hash of the generator version and every parameter.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from PIL import Image
from torch import nn
from torch.nn import functional as F

from dfdet.data.images import COLUMNS
from dfdet.utils.cache import build_once

GENERATOR_VERSION = 3
SPLITS = ("train", "val", "test")
GENERATORS = ("gan_tconv", "gan_upconv", "diffusion_ddpm", "diffusion_few_step")


@dataclass(frozen=True)
class SyntheticImageSpec:
    """What to generate: ``per_generator`` fakes per generator and split, and as many reals."""

    seed: int = 0
    image_size: int = 64
    per_generator: tuple[int, int, int] = (150, 40, 40)  # train, val, test
    generators: tuple[str, ...] = GENERATORS
    jpeg_quality: tuple[int, int] = (70, 95)

    def cache_key(self) -> str:
        blob = json.dumps({"version": GENERATOR_VERSION, **asdict(self)}, sort_keys=True)
        return f"v{GENERATOR_VERSION}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}"


def pink_noise(rng: np.random.Generator, n: int, beta: float) -> np.ndarray:
    """An (n, n) field with amplitude spectrum 1 / f^beta, zero mean and unit std."""
    f = np.sqrt(np.fft.fftfreq(n)[:, None] ** 2 + np.fft.fftfreq(n)[None, :] ** 2)
    f[0, 0] = 1.0
    spec = (rng.normal(size=(n, n)) + 1j * rng.normal(size=(n, n))) / f**beta
    spec[0, 0] = 0.0
    x = np.fft.ifft2(spec).real
    return (x / (x.std() + 1e-8)).astype(np.float32)


def render_scene(rng: np.random.Generator, n: int) -> np.ndarray:
    """A procedural scene, (n, n, 3) float32 in [0, 1], before the camera."""
    img = rng.uniform(0.2, 0.7, 3).astype(np.float32) + rng.uniform(0.06, 0.16) * pink_noise(rng, n, 1.0)[..., None]
    img = img + pink_noise(rng, n, 1.4)[..., None] * rng.normal(0, 0.04, 3).astype(np.float32)
    grain = pink_noise(rng, n, 0.9)  # shape textures: shifted copies of one field
    yy, xx = (np.mgrid[0:n, 0:n].astype(np.float32) + 0.5) / n
    for _ in range(int(rng.integers(2, 7))):
        cx, cy, rx, ry = rng.uniform(0.1, 0.9), rng.uniform(0.1, 0.9), rng.uniform(0.06, 0.35), rng.uniform(0.06, 0.35)
        a = rng.uniform(0, np.pi)
        u, v = (xx - cx) * np.cos(a) + (yy - cy) * np.sin(a), -(xx - cx) * np.sin(a) + (yy - cy) * np.cos(a)
        if rng.uniform() < 0.5:
            d = np.sqrt((u / rx) ** 2 + (v / ry) ** 2) - 1.0
        else:
            d = np.maximum(np.abs(u) / rx, np.abs(v) / ry) - 1.0
        alpha = 1.0 / (1.0 + np.exp(np.clip(d * min(rx, ry) * n / 0.6, -30, 30)))  # ~1 px soft edge
        freq = rng.uniform(2, 12) * np.array([np.cos(b := rng.uniform(0, np.pi)), np.sin(b)])
        texture = 1.0 + rng.uniform(0, 0.25) * np.sin(2 * np.pi * (freq[0] * xx + freq[1] * yy) + rng.uniform(0, 6))
        texture = texture + rng.uniform(0, 0.12) * np.roll(grain, tuple(rng.integers(0, n, 2)), (0, 1))
        shape = rng.uniform(0.05, 0.95, 3).astype(np.float32) * texture[..., None]
        img = img * (1 - alpha[..., None]) + alpha[..., None] * shape
    gx, gy = rng.normal(0, 0.25, 2)
    img = img * (1.0 + gx * (xx - 0.5) + gy * (yy - 0.5))[..., None]
    return np.clip(img, 0, 1).astype(np.float32)


def camera(rng: np.random.Generator, scene: np.ndarray) -> np.ndarray:
    """A scene at twice the size through the camera: 2 x 2 area averaging and signal-dependent noise."""
    n = scene.shape[0] // 2
    img = scene.reshape(n, 2, n, 2, 3).mean((1, 3))
    sigma = np.sqrt(rng.uniform(2e-4, 2e-3) * img + rng.uniform(1e-5, 1e-4))
    return np.clip(img + sigma * rng.normal(size=img.shape), 0, 1).astype(np.float32)


class Decoder(nn.Module):
    """GAN-like decoder: 16 x 16 content and noise -> 64 x 64 image, StyleGAN2-style RGB skips."""

    def __init__(self, up: str, width: int = 24, noise: int = 4) -> None:
        super().__init__()
        self.noise = noise
        self.stem = nn.Conv2d(3 + noise, width, 3, padding=1)
        make_up = {
            "tconv": lambda: nn.ConvTranspose2d(width, width, 4, stride=2, padding=1),
            "upconv": lambda: nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv2d(width, width, 3, padding=1)),
        }[up]  # nn.Upsample's default mode is nearest
        self.ups = nn.ModuleList([make_up() for _ in range(2)])
        self.convs = nn.ModuleList([nn.Conv2d(width, width, 3, padding=1) for _ in range(2)])
        self.to_rgb = nn.ModuleList([nn.Conv2d(width, 3, 1) for _ in range(2)])

    def forward(self, content: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        h = F.leaky_relu(self.stem(torch.cat([content, z], 1)), 0.2)
        rgb = content
        for up, conv, to_rgb in zip(self.ups, self.convs, self.to_rgb, strict=True):
            h = F.leaky_relu(conv(F.leaky_relu(up(h), 0.2)), 0.2)
            rgb = F.interpolate(rgb, scale_factor=2, mode="bilinear", align_corners=False) + to_rgb(h)
        return rgb


class Denoiser(nn.Module):
    """A small convolutional denoiser run iteratively from noise, diffusion-style (fixed random weights)."""

    def __init__(self, width: int = 8, steps: int = 8) -> None:
        super().__init__()
        self.steps = steps
        self.net = nn.Sequential(
            nn.Conv2d(3, width, 3, padding=1), nn.GELU(), nn.Conv2d(width, width, 3, padding=1), nn.GELU(),
            nn.Conv2d(width, 3, 3, padding=1),
        )  # fmt: skip

    def forward(self, base: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """``base`` (B, 3, H, W) the up-sampled content, ``noise`` (steps + 1, B, 3, H, W) standard normal."""
        sigmas = torch.linspace(0.3, 0.0, self.steps + 1)
        kernel = torch.full((3, 1, 3, 3), 1.0 / 9.0)
        x, x0 = base + sigmas[0] * noise[0], base
        for i in range(self.steps):
            blurred = F.conv2d(F.pad(x - base, (1, 1, 1, 1), mode="replicate"), kernel, groups=3)
            x0 = base + 0.5 * blurred + 0.1 * self.net(x)
            x = x0 + sigmas[i + 1] * noise[i + 1]
        return x0


def build_generator(name: str, seed: int) -> nn.Module:
    """Generator ``name`` with fixed random weights drawn from ``seed`` (He-normal, no global RNG)."""
    net: nn.Module = {
        "gan_tconv": lambda: Decoder("tconv"),
        "gan_upconv": lambda: Decoder("upconv"),
        "diffusion_ddpm": lambda: Denoiser(width=8, steps=8),
        "diffusion_few_step": lambda: Denoiser(width=12, steps=3),
    }[name]()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            fan_in = p[0].numel() if p.dim() > 1 else 1
            p.copy_(torch.randn(p.shape, generator=gen) * (np.sqrt(2.0 / fan_in) if p.dim() > 1 else 0.05))
    return net.eval()


@torch.no_grad()
def generate_fakes(
    net: nn.Module, scenes: np.ndarray, rng: np.random.Generator, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Fakes (B, size, size, 3) from scenes (B, N, N, 3): their (size / 4)-pixel content plus ``net``'s
    detail (mean-free per channel), and that content up-sampled (the base the detail is added to)."""
    b = scenes.shape[0]
    content = torch.from_numpy(scenes).permute(0, 3, 1, 2).contiguous()
    content = F.adaptive_avg_pool2d(content, size // 4)
    base = F.interpolate(content, size=(size, size), mode="bilinear", align_corners=False)
    if isinstance(net, Decoder):
        z = torch.from_numpy(rng.normal(size=(b, net.noise, size // 4, size // 4)).astype(np.float32))
        out = net(content, z)
    else:
        steps = int(getattr(net, "steps", 1))
        out = net(base, torch.from_numpy(rng.normal(size=(steps + 1, b, 3, size, size)).astype(np.float32)))
    residual = out - base
    residual = residual - residual.mean((2, 3), keepdim=True)
    return (base + residual).permute(0, 2, 3, 1).numpy(), base.permute(0, 2, 3, 1).numpy()


def jpeg_bytes(img: np.ndarray, quality: int) -> int:
    """Size in bytes of ``img`` (H, W, 3) in [0, 1] saved as a JPEG of ``quality``."""
    buf = io.BytesIO()
    Image.fromarray((np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)).save(buf, format="JPEG", quality=quality)
    return buf.tell()


def match_bytes(img: np.ndarray, base: np.ndarray, target: int, quality: int) -> np.ndarray:
    """``base + k (img - base)``, k found by bisection so that its JPEG at ``quality`` has about ``target`` bytes
    (more detail, more bytes): real and fake file sizes then follow one distribution."""
    lo, hi = 0.0, 16.0
    for _ in range(10):
        k = (lo + hi) / 2
        lo, hi = (k, hi) if jpeg_bytes(base + k * (img - base), quality) < target else (lo, k)
    return np.clip(base + (lo + hi) / 2 * (img - base), 0, 1).astype(np.float32)


def _save(img: np.ndarray, path: Path, quality: int) -> None:
    Image.fromarray((np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8)).save(path, quality=quality)


def _generate_rows(spec: SyntheticImageSpec, out: Path) -> list[dict[str, object]]:
    size, q = spec.image_size, spec.jpeg_quality
    nets = {g: build_generator(g, spec.seed * 1000 + GENERATORS.index(g)) for g in spec.generators}
    rows: list[dict[str, object]] = []
    for split, count, seq in zip(SPLITS, spec.per_generator, np.random.SeedSequence(spec.seed).spawn(3), strict=True):
        rng = np.random.default_rng(seq)
        (out / split).mkdir()
        reals = [camera(rng, render_scene(rng, 2 * size)) for _ in range(count * len(nets))]
        for i, img in enumerate(reals):
            name = f"{split}/real_{i:05d}.jpg"
            _save(img, out / name, int(rng.integers(q[0], q[1], endpoint=True)))
            subset = spec.generators[i % len(nets)]
            rows.append({"split": split, "label": 0, "method": "real", "subset": subset, "path": name})
        for g, net in nets.items():
            scenes = np.stack([render_scene(rng, size // 2) for _ in range(count)])  # only the content is used
            fakes, bases = generate_fakes(net, scenes, rng, size)
            for i in range(count):
                quality = int(rng.integers(q[0], q[1], endpoint=True))
                target = jpeg_bytes(reals[int(rng.integers(len(reals)))], quality)  # a real's size at this quality
                name = f"{split}/{g}_{i:05d}.jpg"
                _save(match_bytes(fakes[i], bases[i], target, quality), out / name, quality)
                rows.append({"split": split, "label": 1, "method": g, "subset": g, "path": name})
    return rows


def generate(spec: SyntheticImageSpec, out: Path) -> pd.DataFrame:
    """Generates the whole set into ``out`` (which must not exist) and writes ``out/manifest.parquet``."""
    out.mkdir(parents=True)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # these small convolutions run several times faster on one thread, on a busy machine too
    try:
        rows = _generate_rows(spec, out)
    finally:
        torch.set_num_threads(threads)
    manifest = pd.DataFrame(rows)
    manifest["dataset"] = "synthetic_images"
    manifest["image_id"] = [p.rsplit(".", 1)[0] for p in manifest["path"]]
    manifest[list(COLUMNS)].to_parquet(out / "manifest.parquet", index=False)
    (out / "spec.json").write_text(json.dumps(asdict(spec), indent=2))
    return manifest


def ensure_synthetic_images(spec: SyntheticImageSpec, cache_dir: str | os.PathLike) -> Path:
    """Returns the manifest path of ``spec``'s set under ``cache_dir``, generating it on first use."""
    final = Path(cache_dir) / f"synthetic_images-{spec.cache_key()}"
    return build_once(final, lambda tmp: len(generate(spec, tmp)), "synthetic image set")


class SyntheticImageSource:
    """The built-in generated-image set (module docstring), generated on first use into ``cache_dir``.

    Args:
        cache_dir: folder holding generated sets, one subfolder per parameter set.
        seed: generator seed; the same seed and parameters give the same files.
        image_size: side of the square images (a multiple of 4).
        per_generator: fake images per generator in train, val and test; as many reals.
        generators: which of :data:`GENERATORS` (e.g. three of them, to hold one out).
        jpeg_quality: range of JPEG qualities, the same for real and fake.
    """

    name = "synthetic_images"
    id_column = "image_id"

    def __init__(
        self,
        cache_dir: str | os.PathLike,
        seed: int = 0,
        image_size: int = 64,
        per_generator: tuple[int, int, int] | list[int] = (150, 40, 40),
        generators: tuple[str, ...] | list[str] = GENERATORS,
        jpeg_quality: tuple[int, int] | list[int] = (70, 95),
    ) -> None:
        self.cache_dir = Path(cache_dir)
        self.spec = SyntheticImageSpec(
            seed=seed,
            image_size=image_size,
            per_generator=tuple(int(c) for c in per_generator),  # type: ignore[arg-type]
            generators=tuple(str(g) for g in generators),
            jpeg_quality=tuple(int(v) for v in jpeg_quality),  # type: ignore[arg-type]
        )

    def check(self) -> None:
        from dfdet.errors import DatasetNotFoundError

        unknown = [g for g in self.spec.generators if g not in GENERATORS]
        if unknown or not self.spec.generators:
            raise DatasetNotFoundError(f"data.source.generators: unknown {unknown}; choose from {list(GENERATORS)}")
        if len(self.spec.per_generator) != 3 or min(self.spec.per_generator) < 1 or self.spec.image_size % 4:
            raise DatasetNotFoundError(
                "data.source.per_generator needs 3 positive counts (train, val, test) and image_size a multiple of 4"
            )

    def prepare(self) -> None:
        self.check()
        ensure_synthetic_images(self.spec, self.cache_dir)

    def manifest(self) -> pd.DataFrame:
        path = ensure_synthetic_images(self.spec, self.cache_dir)
        df = pd.read_parquet(path)
        df["path"] = [str(path.parent / p) for p in df["path"]]
        return df[list(COLUMNS)]
