"""perturb.mode=faithful: source videos re-encoded with H.264 before the faces are cut again."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from hydra.utils import instantiate

from dfdet.perturb.faithful import crop_settings, faithful_media
from dfdet.tasks.evaluate import evaluate
from dfdet.tasks.preprocess import preprocess


@pytest.mark.slow
def test_faithful_sweep_recrops_reencoded_videos(
    folder_tree: Path, preprocess_cfg: Callable, tiny_cfg: Callable, compose_cfg: Callable, write_checkpoint: Callable,
    tmp_path: Path,
) -> None:  # fmt: skip
    preprocess(preprocess_cfg("data=folder", f"data.root={folder_tree}"))
    data = ["data=folder", f"data.root={folder_tree}", f"paths.data_dir={tmp_path / 'data'}"]
    datamodule = instantiate(tiny_cfg(*data).data)
    datamodule.setup("test")
    assert crop_settings(datamodule.source) == (0.15, 64)
    media = faithful_media(datamodule, "test", [10, 51], redetect=False)  # the original boxes
    dataset = datamodule.datasets["test"]
    clean = [dataset.raw(i).astype(float) for i in range(len(dataset))]
    # CRF 10 re-cuts nearly the stored crop (itself a JPEG of the original frame); CRF 51 degrades it much more
    near = np.mean([np.abs(media[10.0].get(i) - c).mean() for i, c in enumerate(clean)])
    far = np.mean([np.abs(media[51.0].get(i) - c).mean() for i, c in enumerate(clean)])
    assert near < 6 and far > near + 1, (near, far)
    found = faithful_media(datamodule, "test", [10], redetect=True)[10.0]  # faces detected on the re-encoded frames
    assert found.faces_lost == 0
    moved = np.mean([np.abs(found.get(i) - c).mean() for i, c in enumerate(clean)])
    assert moved < 20, moved  # the same face, cut at the box found again (not the preprocessing's tracked box)

    ckpt = write_checkpoint(tmp_path / "model.ckpt", "model=tiny", *data)
    cfg = compose_cfg("evaluate", [f"ckpt_path={ckpt}", *data, f"paths.output_dir={tmp_path / 'eval'}",
                                   "trainer.accelerator=cpu", "trainer.enable_progress_bar=false", "perturb=default",
                                   "perturb.mode=faithful", "perturb.settings=[]", "perturb.crf=[20,45]",
                                   "perturb.bootstrap=0"])  # fmt: skip
    evaluate(cfg)
    robust = json.loads((tmp_path / "eval" / "metrics.json").read_text())["robustness"]
    assert [(r["distortion"], r["param"]) for r in robust["settings"]] == [("H264", 20.0), ("H264", 45.0)]
    assert (tmp_path / "eval" / "robustness" / "H264.png").is_file()
