"""Format-bias control: re-encode real and fake images alike, once, into a cache folder.

In most AI-generated image benchmarks the real photos are camera JPEGs and the generated images PNGs (or JPEGs of
another quality, size or with no EXIF), so a detector can learn the file format instead of the generator's traces
(see :mod:`dfdet.data.images.audit`). :class:`Reencode` removes that shortcut: every image, real or fake, goes
through the same chain (optional resize of the shorter side, optional centre crop, EXIF dropped) and is saved as a
JPEG whose quality is drawn from one range, for each file by a hash of its bytes (so the draw depends neither on the
class nor on the order or place of the files).

Why a source option writing copies once, rather than a transform at read time: the audit then sees the files that
training reads (a read-time transform would leave the audit, and any other tool reading the files, looking at the
biased originals), decoding and re-encoding happen once instead of every epoch, and evaluation and prediction read
ordinary files. The cost is disk space, in a cache folder named by a hash of the settings and the file list.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path

import pandas as pd
from PIL import Image

from dfdet.utils.cache import build_once


class Reencode:
    """Re-encodes every image of a manifest the same way (``data.source.reencode``).

    Args:
        cache_dir: folder for the re-encoded copies (one subfolder per settings and file list).
        quality: range (inclusive) of JPEG qualities, one drawn per file from a hash of its bytes.
        resize: shorter side after resizing (bicubic, antialiased); None keeps the size.
        crop: side of the square centre crop after resizing; None keeps the whole image.
        seed: changes the per-file quality draws.
    """

    def __init__(
        self,
        cache_dir: str | os.PathLike,
        quality: tuple[int, int] | list[int] = (75, 95),
        resize: int | None = None,
        crop: int | None = None,
        seed: int = 0,
    ) -> None:
        lo, hi = (int(q) for q in quality)
        if not 1 <= lo <= hi <= 100:
            raise ValueError(f"reencode.quality must be a range within [1, 100], got {list(quality)}")
        self.cache_dir = Path(cache_dir)
        self.quality = (lo, hi)
        self.resize = resize
        self.crop = crop
        self.seed = seed

    def quality_for(self, data: bytes) -> int:
        """The JPEG quality of a file of bytes ``data``: uniform over the range, independent of its class."""
        u = int(hashlib.sha1(f"{self.seed}:".encode() + data).hexdigest()[:8], 16)
        return self.quality[0] + u % (self.quality[1] - self.quality[0] + 1)

    def image(self, img: Image.Image) -> Image.Image:
        """The resize and crop chain applied to one decoded image (RGB)."""
        img = img.convert("RGB")
        if self.resize is not None:
            w, h = img.size
            s = self.resize / min(w, h)
            img = img.resize((max(1, round(w * s)), max(1, round(h * s))), Image.Resampling.BICUBIC)
        if self.crop is not None:
            w, h = img.size
            c = min(self.crop, w, h)
            left, top = (w - c) // 2, (h - c) // 2
            img = img.crop((left, top, left + c, top + c))
        return img

    def _key(self, paths: list[str]) -> str:
        blob = json.dumps([self.quality, self.resize, self.crop, self.seed, paths])
        return hashlib.sha256(blob.encode()).hexdigest()[:12]

    def _build(self, paths: list[str], out: Path) -> int:
        out.mkdir(parents=True)
        names = []
        for i, path in enumerate(paths):
            name = f"{i // 1000:05d}/{i % 1000:03d}.jpg"
            (out / name).parent.mkdir(exist_ok=True)
            data = Path(path).read_bytes()
            with Image.open(io.BytesIO(data)) as img:
                self.image(img).save(out / name, quality=self.quality_for(data))  # no exif= : EXIF is dropped
            names.append(name)
        pd.DataFrame({"source": paths, "path": names}).to_parquet(out / "manifest.parquet", index=False)
        return len(paths)

    def apply(self, manifest: pd.DataFrame) -> pd.DataFrame:
        """The manifest with ``path`` pointing at re-encoded copies (made on first use); ``source_path`` keeps the
        original file."""
        paths = [str(p) for p in manifest["path"]]
        final = self.cache_dir / f"reencoded-{self._key(paths)}"
        index = build_once(final, lambda tmp: self._build(paths, tmp), "re-encoded images")
        copies = pd.read_parquet(index)
        out = manifest.copy()
        out["source_path"] = paths
        out["path"] = [str(index.parent / p) for p in copies["path"]]
        return out
