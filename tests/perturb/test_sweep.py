"""evaluate.py perturb=... on the built-in synthetic data: table, curves and metrics.json; breakdowns by hand."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import dfdet.export
from dfdet.export import ExportError
from dfdet.metrics.bootstrap import _auc
from dfdet.metrics.breakdown import group_scores, video_groups
from dfdet.models import load_detector
from dfdet.perturb.registry import build_settings
from dfdet.perturb.sweep import DecodedCache, inference_runner, run_sweep, score_items
from dfdet.tasks.common import build
from dfdet.tasks.evaluate import _data_config, evaluate


def test_sweep_writes_table_curves_and_metrics(trained_task_cfg, tmp_path: Path) -> None:
    cfg = trained_task_cfg("evaluate", "eval", "perturb=default", "perturb.settings=[GB,BW]",
                           "perturb.levels={GB:[7,21],BW:[16,80]}", "perturb.bootstrap=20",
                           "breakdown=[method,face_size]")  # fmt: skip
    metrics = evaluate(cfg)
    out = tmp_path / "eval"
    saved = json.loads((out / "metrics.json").read_text())
    robust = saved["robustness"]
    assert [f"{r['distortion']}/{r['level']}" for r in robust["settings"]] == ["GB/1", "GB/2", "BW/1", "BW/2"]
    clean = robust["clean"]
    assert clean["auc"] == pytest.approx(metrics["test/video_auc"], abs=1e-6)  # the fast path scores as Lightning
    assert robust["mean_auc"] == pytest.approx(np.mean([r["auc"] for r in robust["settings"]]))
    assert metrics["test/robust_mean_auc"] == pytest.approx(robust["mean_auc"])
    assert all(len(r["auc_ci"]) == 2 for r in robust["settings"])
    table = pd.read_csv(out / "robustness.csv")
    assert list(table["distortion"]) == ["clean", "GB", "GB", "BW", "BW"] and "auc_ci_low" in table.columns
    table_md = (out / "robustness.md").read_text()
    assert "| GB | 2 | 21 kernel side |" in table_md
    small = min(clean["real"], clean["fake"]) < 20
    assert robust["small_test_set"] is small and ("**Small test set**" in table_md) is small
    assert (out / "robustness" / "GB.png").stat().st_size > 1000 and (out / "robustness" / "BW.png").is_file()
    # Breakdowns: a table per column, in metrics.json
    methods = {r["group"] for r in saved["breakdown"]["method"]}
    assert "real" in methods and len(methods) > 1 and (out / "breakdown_face_size.csv").is_file()


def test_sweep_is_deterministic_whatever_the_batches_and_threads(trained_task_cfg) -> None:
    cfg = trained_task_cfg("evaluate", "unused")
    model, train_cfg = load_detector(cfg.ckpt_path)
    datamodule = build(_data_config(cfg, train_cfg))
    datamodule.setup("test")
    dataset = datamodule.datasets["test"]
    settings = build_settings("face", ["GNC"], {"GNC": [0.05]})  # random: draws per (seed, setting, item)
    runs = [run_sweep(model, dataset, settings, seed=3, threshold=0.5, batch_size=b, workers=w, cache_mb=mb).rows
            for b, w, mb in ((5, 1, 0), (16, 3, 100))]  # fmt: skip
    assert [r["auc"] for r in runs[0]] == pytest.approx([r["auc"] for r in runs[1]], abs=1e-9)
    # Each distortion is reported (e.g. its curve drawn) once all its levels are scored, with the clean row.
    calls: list[tuple[list[dict], dict]] = []
    both = build_settings("face", ["GB", "BW"], {"GB": [7, 21], "BW": [16]})
    result = run_sweep(model, dataset, both, 3, 0.5, workers=2, on_distortion=lambda r, c: calls.append((r, c)))
    assert [[r["distortion"] for r in rows] for rows, _ in calls] == [["GB", "GB"], ["BW"]]
    assert [row for rows, _ in calls for row in rows] == result.rows[1:] and calls[0][1] == result.rows[0]
    moved = score_items(model, dataset, DecodedCache(dataset, 10), settings[0], seed=4)["preds"]
    assert not torch.equal(moved, score_items(model, dataset, DecodedCache(dataset, 10), settings[0], seed=3)["preds"])


def test_group_scores_against_a_hand_computation() -> None:
    p = np.array([0.9, 0.8, 0.3, 0.2, 0.6, 0.1, 0.7])
    y = np.array([1, 1, 1, 0, 0, 0, 1])
    groups = np.array(["a", "a", "b", "real", "real", "real", "b"])
    rows = {r["group"]: r for r in group_scores(p, y, groups, threshold=0.5)}
    # "a" holds fakes only: scored against every real (0.2, 0.6, 0.1): 6 of 6 pairs ranked right.
    assert rows["a"]["against"] == "all reals" and rows["a"]["auc"] == 1.0 and rows["a"]["acc"] == 1.0
    # "b": fakes 0.3, 0.7 against reals 0.2, 0.6, 0.1: (3 + 2) / 6 pairs ranked right; 1 of its 2 calls right.
    assert rows["b"]["auc"] == pytest.approx(5 / 6) and rows["b"]["acc"] == 0.5
    # "real": against all fakes = the whole set.
    assert rows["real"]["auc"] == pytest.approx(_auc(p, y)) and rows["real"]["acc"] == pytest.approx(2 / 3)
    mixed = {r["group"]: r for r in group_scores(p, y, np.array(["x"] * 4 + ["z"] * 3), 0.5)}
    assert mixed["x"]["against"] == "group" and mixed["x"]["auc"] == 1.0  # 0.9, 0.8, 0.3 vs 0.2
    assert mixed["z"]["auc"] == pytest.approx(_auc(p[4:], y[4:]))


def test_video_groups_from_manifest_columns_and_face_boxes() -> None:
    manifest = pd.DataFrame({
        "video_idx": [0, 0, 1, 1, 2], "method": ["real", "real", "FS", "FS", "DF"], "path": ["x"] * 5,
        "box": [[0, 0, 50, 40], [0, 0, 70, 40], [0, 0, 300, 300], [0, 0, 290, 280], [10, 10, 110, 150]],
    })  # fmt: skip
    assert list(video_groups(manifest, "method")) == ["real", "FS", "DF"]
    assert list(video_groups(manifest, "face_size")) == ["<64", ">=256", "128-255"]  # medians 60, 295, 140
    with pytest.raises(Exception, match="neither a manifest column"):
        video_groups(manifest, "camera")


@pytest.mark.slow
def test_audio_sweep_and_speaker_breakdown(untrained_audio_ckpt: Path, compose_cfg, tmp_path: Path) -> None:
    cfg = compose_cfg("evaluate", [
        f"ckpt_path={untrained_audio_ckpt}", "data=synthetic_audio", "data.source.speakers=[2,2,3]",
        "data.source.utterances_per_speaker=2", "data.source.seconds=[1.0,1.5]", f"paths.data_dir={tmp_path / 'data'}",
        f"paths.output_dir={tmp_path / 'out'}", "trainer=cpu", "perturb=default",
        "perturb.settings=[mp3,noise,packet_loss,narrowband]", "perturb.levels={mp3:[16],noise:[10],packet_loss:[0.2]}",
        "perturb.bootstrap=0", "breakdown=[speaker]",
    ])  # fmt: skip
    evaluate(cfg)
    saved = json.loads((tmp_path / "out" / "metrics.json").read_text())
    names = [f"{r['distortion']}/{r['param']:g}" for r in saved["robustness"]["settings"]]
    assert names == ["mp3/16", "noise/10", "packet_loss/0.2", "narrowband/8000"]
    assert saved["robustness"]["clean"]["real"] + saved["robustness"]["clean"]["fake"] == 12
    assert len(saved["breakdown"]["speaker"]) == 3
    with pytest.raises(Exception, match="applies to image"):
        evaluate(compose_cfg("evaluate", [*cfg_overrides(cfg), "perturb.settings=[GB]"]))


def cfg_overrides(cfg) -> list[str]:  # type: ignore[no-untyped-def]
    return [f"ckpt_path={cfg.ckpt_path}", "data=synthetic_audio", "data.source.speakers=[2,2,3]",
            "data.source.utterances_per_speaker=2", "data.source.seconds=[1.0,1.5]",
            f"paths.data_dir={cfg.paths.data_dir}", f"paths.output_dir={cfg.paths.output_dir}2", "trainer=cpu",
            "perturb=default"]  # fmt: skip


def test_compression_and_resolution_are_derived_from_the_files(tmp_path: Path) -> None:
    from PIL import Image

    from dfdet.perturb.video import h264_encode

    rng = np.random.default_rng(0)
    pixels = (rng.random((40, 60, 3)) * 255).astype(np.uint8)
    Image.fromarray(pixels).save(tmp_path / "a.jpg", quality=60)
    Image.fromarray(pixels).save(tmp_path / "b.png")
    (tmp_path / "c.mp4").write_bytes(h264_encode(np.stack([pixels[:, :60]] * 5), crf=30))
    manifest = pd.DataFrame({
        "video_idx": [0, 1, 2], "path": [str(tmp_path / n) for n in ("a.jpg", "b.png", "x.jpg")],
        "source_path": [None, None, str(tmp_path / "c.mp4")],
    })  # fmt: skip
    assert list(video_groups(manifest, "compression"))[:2] == ["q50-74", "lossless"]
    assert video_groups(manifest, "compression")[2] in ("<0.05", "0.05-0.1", "0.1-0.2", ">=0.2")
    assert list(video_groups(manifest, "resolution")) == ["<=360"] * 3  # 40-px sides, a 40-line video


@pytest.mark.parametrize("option", ["none", "default"])
def test_perturb_options_compose_and_plan(compose_cfg, option: str) -> None:
    from dfdet.perturb.task import PerturbConfigError, plan, sweep_requested

    cfg = compose_cfg("evaluate", ["ckpt_path=x.ckpt", f"perturb={option}"])
    assert sweep_requested(cfg) == (option == "default")
    if option == "default":
        assert len(plan(cfg, "face")) == 38 and len(plan(cfg, "audio")) == 22
        cfg.perturb.mode = "faithful"
        with pytest.raises(PerturbConfigError, match="source videos of face data"):
            plan(cfg, "audio")


def test_every_crop_of_an_image_shares_its_distortion(tmp_path: Path) -> None:
    from PIL import Image

    from dfdet.data.datasets import ImageCropDataset
    from dfdet.perturb.registry import Setting, item_rng

    for k in range(2):
        Image.fromarray((np.random.default_rng(k).random((80, 80, 3)) * 255).astype(np.uint8)).save(
            tmp_path / f"{k}.png"
        )
    rows = pd.DataFrame({"path": [str(tmp_path / f"{k}.png") for k in range(2)], "label": [0, 1]})
    ds = ImageCropDataset(rows, np.arange(2), 32, (0.5,) * 3, (0.5,) * 3, crop="grid", crops=4)
    assert [ds.raw_key(i) for i in range(len(ds))] == [0, 0, 0, 0, 1, 1, 1, 1]
    assert all(torch.equal(ds[i]["image"], ds.from_raw(i, ds.raw(i))["image"]) for i in range(len(ds)))
    noise = Setting("GNC", 5, 0.05)
    image = ds.raw(5)
    first, second = (noise.apply(image, item_rng(0, noise, ds.raw_key(i))) for i in (4, 5))
    assert np.array_equal(first, second)  # one draw per image, whatever the crop


def test_onnxruntime_engine_scores_as_eager_pytorch_and_falls_back(trained_task_cfg, monkeypatch, caplog) -> None:
    cfg = trained_task_cfg("evaluate", "unused")
    model, train_cfg = load_detector(cfg.ckpt_path)
    datamodule = build(_data_config(cfg, train_cfg))
    datamodule.setup("test")
    dataset = datamodule.datasets["test"]
    cache = DecodedCache(dataset, 100)
    runner = inference_runner(model, dataset, cache, "auto", batch_size=8)
    assert runner is not model  # the CPU default: the ONNX graph in onnxruntime
    settings = build_settings("face", ["GB"], {"GB": [9]})
    eager = score_items(model, dataset, cache, settings[0], seed=0)["preds"]
    onnx = score_items(model, dataset, cache, settings[0], seed=0, runner=runner)["preds"]
    assert torch.allclose(eager, onnx, atol=1e-5) and not torch.equal(eager, torch.zeros_like(eager))
    rows = [run_sweep(model, dataset, settings, 0, 0.5, engine=e).rows for e in ("eager", "onnxruntime")]
    assert [r["auc"] for r in rows[0]] == pytest.approx([r["auc"] for r in rows[1]], abs=1e-6)

    def no_export(*args, **kwargs):
        raise ExportError("unsupported operator")

    monkeypatch.setattr(dfdet.export, "onnx_session", no_export)
    with caplog.at_level("WARNING"):
        assert inference_runner(model, dataset, cache, "auto", batch_size=8) is model
    assert "did not export to ONNX (unsupported operator)" in caplog.text
    with pytest.raises(ExportError):
        inference_runner(model, dataset, cache, "onnxruntime", batch_size=8)
    with pytest.raises(ValueError, match="choose one of"):
        inference_runner(model, dataset, cache, "tensorrt", batch_size=8)


@pytest.mark.parametrize(("real", "fake", "flagged"), [(25, 20, False), (25, 19, True)])
def test_sweep_table_flags_a_small_test_set(real: int, fake: int, flagged: bool) -> None:
    from dfdet.perturb.report import markdown_table, sweep_summary
    from dfdet.perturb.sweep import SweepResult

    row = {"auc": 0.9, "eer": 0.1, "acc": 0.8, "real": real, "fake": fake}
    result = SweepResult(rows=[{"distortion": "clean", "level": 0, "param": None, **row},
                               {"distortion": "GB", "level": 1, "param": 7.0, **row}])  # fmt: skip
    assert sweep_summary(result)["small_test_set"] is flagged
    assert ("**Small test set**: 25 real" in markdown_table(result)) is flagged
