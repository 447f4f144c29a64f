"""The file-format shortcut audit catches a planted shortcut, and re-encoding removes it."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from dfdet.data.images.audit import file_features, format_audit, jpeg_quality, warn_if_shortcut
from dfdet.data.images.reencode import Reencode
from dfdet.data.images.sources import ImageFolderSource


def planted(root: Path, n: int = 40) -> Path:
    """Reals are JPEGs (quality 90, with EXIF), fakes PNGs (without): the field's classic trap."""
    rng = np.random.default_rng(0)
    (root / "real").mkdir(parents=True)
    (root / "fake").mkdir(parents=True)
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(
            root / "real" / f"{i}.jpg", quality=90, exif=exif
        )
        Image.fromarray(rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)).save(root / "fake" / f"{i}.png")
    return root


def test_jpeg_quality_estimate_and_features(tmp_path: Path) -> None:
    img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8))
    for q in (40, 75, 95):
        img.save(tmp_path / f"{q}.jpg", quality=q)
        with Image.open(tmp_path / f"{q}.jpg") as f:
            assert jpeg_quality(f.quantization) == q
    img.save(tmp_path / "a.png")
    feats = file_features(str(tmp_path / "a.png"))
    assert feats["format"] == "png" and feats["jpeg_quality"] == -1 and feats["exif"] == "no"


def test_audit_catches_planted_shortcut_and_reencoding_removes_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = planted(tmp_path / "data")
    df = ImageFolderSource(str(root)).manifest()
    aucs = format_audit(df)
    assert aucs["format"] == aucs["exif"] == aucs["jpeg_quality"] == aucs["file_size"] == 1.0
    with caplog.at_level(logging.WARNING, logger="dfdet"):
        assert "format" in warn_if_shortcut(aucs, where="planted")
    assert "File-format shortcut in planted" in caplog.text

    reencode = Reencode(tmp_path / "cache", quality=(70, 95), resize=32, crop=32)
    fixed = ImageFolderSource(str(root), reencode=reencode).manifest()
    assert fixed["source_path"].tolist() == df["path"].tolist()
    after = format_audit(fixed)
    assert max(after[k] for k in ("format", "exif", "width", "height", "aspect")) == 0.5
    assert not warn_if_shortcut(after)  # quality and file size: below 0.7 (drawn alike, same size)
    again = ImageFolderSource(str(root), reencode=reencode).manifest()  # cached: same files
    assert again["path"].tolist() == fixed["path"].tolist()


def test_audit_needs_both_classes() -> None:
    assert format_audit(pd.DataFrame({"path": ["x"], "label": [0]})) == {}


def test_reencode_from_the_data_config(tiny_cfg, tmp_path: Path) -> None:
    """``data.source.reencode`` on the command line: the datamodule reads re-encoded copies, the audit is low.

    With the resize chain: re-encoding alone leaves the reals' earlier JPEG loss (their copies are smaller, file size
    AUC 0.74 at quality 80-90 here); resizing real and fake alike removes it."""
    from hydra.utils import instantiate

    root = planted(tmp_path / "data")
    cache = tmp_path / "reencoded"
    reencode = f"{{_target_:dfdet.data.images.reencode.Reencode,cache_dir:'{cache}',resize:32}}"
    cfg = tiny_cfg("data=image_folder", "model=image_small", f"data.root={root}", f"data.source.reencode={reencode}")
    datamodule = instantiate(cfg.data)
    datamodule.setup()
    assert all(str(p).startswith(str(cache)) for p in datamodule.manifest["path"])
    assert not warn_if_shortcut(format_audit(datamodule.manifest))


def test_train_warns_of_the_shortcut(tiny_cfg, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from dfdet.tasks.train import train

    root = tmp_path / "data"
    for split in ("train", "val", "test"):
        planted(root / split, n=8)
    cfg = tiny_cfg("data=image_folder", "model=image_small", f"data.root={root}", "trainer.limit_train_batches=1")
    with caplog.at_level(logging.WARNING, logger="dfdet"):
        train(cfg)
    assert "File-format shortcut in image_folder" in caplog.text and "format 1.00" in caplog.text
