"""The built-in generated-image set: deterministic, no file-format shortcut, and learnable in-domain."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from omegaconf import DictConfig

from dfdet.data.images.audit import format_audit
from dfdet.data.images.synthetic import GENERATORS, SyntheticImageSource
from dfdet.tasks.evaluate import evaluate
from dfdet.tasks.train import train

SMALL = [60, 15, 15]  # fakes per generator in train, val, test (and as many reals): 720 images, a few seconds


def test_generated_set_is_deterministic_balanced_and_has_no_file_shortcut(tmp_path: Path) -> None:
    df = SyntheticImageSource(tmp_path / "a", per_generator=SMALL).manifest()
    assert df.groupby(["split", "label"]).size().to_dict() == {
        ("test", 0): 60, ("test", 1): 60, ("train", 0): 240, ("train", 1): 240, ("val", 0): 60, ("val", 1): 60,
    }  # fmt: skip
    assert set(df[df["label"] == 1]["method"]) == set(GENERATORS)
    assert (df.groupby("subset")["label"].mean() == 0.5).all()  # every generator's subset has its reals
    aucs = format_audit(df)
    assert max(aucs.values()) < 0.65, aucs
    again = SyntheticImageSource(tmp_path / "b", per_generator=SMALL).manifest()
    pairs = zip(df["path"][::97], again["path"][::97], strict=True)
    assert all(Path(p).read_bytes() == Path(q).read_bytes() for p, q in pairs)


@pytest.mark.slow
def test_tiny_model_learns_the_set_in_domain(tiny_cfg: Callable[..., DictConfig], compose_cfg: Callable) -> None:
    """In-domain AUC above 0.9, and evaluate reports the format audit of the test split (no shortcut here)."""
    cfg = tiny_cfg(
        "data=synthetic_images", "model=image_small", "augment=none", "trainer.max_epochs=2",
        f"data.source.per_generator=[{','.join(map(str, SMALL))}]",
    )  # fmt: skip
    metrics = train(cfg)
    assert metrics["test/auc"] > 0.9, metrics
    generators = ("gan_tconv", "gan_upconv", "diffusion_ddpm", "diffusion_few_step")
    assert {f"{stage}/eer_{g}" for stage in ("val", "test") for g in generators} <= set(metrics)
    preds = pd.read_csv(Path(cfg.paths.output_dir) / "predictions.csv")
    assert len(preds) == 120
    run = Path(cfg.paths.output_dir)
    evaluate(compose_cfg("evaluate", [f"ckpt_path={run / 'checkpoints' / 'best.ckpt'}",
                                         f"paths.data_dir={cfg.paths.data_dir}", f"paths.output_dir={run / 'eval'}",
                                         "trainer.accelerator=cpu", "trainer.enable_progress_bar=false"]))  # fmt: skip
    audit = json.loads((run / "eval" / "metrics.json").read_text())["format_audit"]
    assert set(audit) >= {"format", "jpeg_quality", "file_size", "exif"} and max(audit.values()) < 0.65
