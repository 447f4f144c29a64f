"""Temporal localisation in evaluation on the built-in partial fakes: clip scores placed in time, AP@IoU / AR@N
against the segment labels, the challenge-format file; evaluate.py reports them for audio-visual models."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from hydra.utils import instantiate

from dfdet.metrics.localisation import read_predictions
from dfdet.tasks.localisation import localisation_report

SOURCE = ["data.source.persons=[2,2,2]", "data.source.clips_per_person=2", "data.source.size=48",
          "data.source.seconds=2.4"]  # fmt: skip
MODEL = ["model=av_joint_tiny", "model.input.clip_len=5", "model.input.clip_stride=5", "model.input.size=48"]


@pytest.fixture(scope="module")
def data_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("talking")


def test_oracle_clip_scores_localise_the_fake_segments(compose_cfg, data_path: Path, tmp_path: Path) -> None:
    cfg = compose_cfg("train", [*MODEL, "data=synthetic_av", *SOURCE, f"paths.data_dir={data_path}"])
    datamodule = instantiate(cfg.data)
    datamodule.setup()
    dataset = datamodule.datasets["val"]  # the methods cycle over the set: this tiny val holds the partial fakes
    segments, names = datamodule.per_video("fake_segments"), datamodule.per_video("source")  # the files
    fps = 25.0
    vids = np.array([c[2] for c in dataset.clips])
    firsts = np.array([first for _, first, _ in dataset.spans])
    lasts = np.array([last for _, _, last in dataset.spans])

    def oracle(v: int, a: int, b: int) -> float:  # does the clip overlap a labelled segment?
        return float(any(min((b + 1) / fps, hi) - max(a / fps, lo) > 0 for lo, hi in json.loads(segments[v])))

    methods = datamodule.methods()
    expected = {"real": (0, 0), "face": (1, 0), "voice": (0, 1), "both": (1, 1), "partial_voice": (0, 1)}
    for v, (video, audio, _) in zip(vids, dataset.modality_labels, strict=True):  # per-modality labels of the set
        assert (video, audio) == expected.get(methods[v], (video, audio))
    scores = np.array([oracle(v, a, b) for v, a, b in zip(vids, firsts, lasts, strict=True)])
    assert 0 < scores.mean() < 1  # the test split holds real and (partly) fake clips
    rows = {"preds": scores, "video_idx": vids, "frame_index": firsts}
    model = SimpleNamespace(predictions={"test": rows}, threshold=torch.tensor(0.5))
    assert {"partial_face", "partial_voice", "partial_both"} <= {datamodule.methods()[v] for v in set(vids.tolist())}
    metrics = localisation_report(model, datamodule, "val", tmp_path)
    # Clip-level truth at 0.2-s resolution: every segment found at IoU 0.5; the partial ones (0.3-2 s) not exactly.
    assert metrics["val/ap@0.5"] >= 0.9 and metrics["val/ar@50"] >= 0.6, metrics  # 1.0 and 0.725 here
    assert metrics["val/ap@0.95"] < metrics["val/ap@0.5"]
    written = read_predictions(tmp_path / "localisation.json")
    assert set(written) == {names[v] for v in set(vids.tolist())}
    reals = [names[v] for v in set(vids.tolist()) if json.loads(segments[v]) == []]
    assert reals and all(written[name] == [] for name in reals)  # no proposal where nothing scores above 0.1
    rows_flat = {"preds": np.full(len(scores), 0.5), "video_idx": vids, "frame_index": firsts}
    flat = localisation_report(SimpleNamespace(predictions={"test": rows_flat}, threshold=torch.tensor(0.5)),
                               datamodule, "val", tmp_path)  # fmt: skip
    assert flat["val/score"] < metrics["val/score"]


def test_evaluate_reports_localisation_for_audio_visual_models(
    compose_cfg, write_checkpoint, data_path: Path, tmp_path: Path
) -> None:
    from dfdet.tasks.evaluate import evaluate

    data = ["data=synthetic_av", *SOURCE, f"paths.data_dir={data_path}"]
    ckpt = write_checkpoint(tmp_path / "av.ckpt", *MODEL, *data)
    cfg = compose_cfg("evaluate", [f"ckpt_path={ckpt}", *data, f"paths.output_dir={tmp_path / 'eval'}",
                                   "trainer.accelerator=cpu", "trainer.enable_progress_bar=false"])  # fmt: skip
    result = evaluate(cfg)
    for key in ("test/ap@0.5", "test/ap@0.95", "test/ar@50", "test/ar@5", "test/score"):
        assert 0.0 <= result[key] <= 1.0
    saved = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert saved["test/ap@0.75"] == result["test/ap@0.75"]
    assert read_predictions(tmp_path / "eval" / "localisation.json")
