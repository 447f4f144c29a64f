"""benchmark.py: one checkpoint on several test sets, one table; missing sets skipped with their reason."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from dfdet.errors import CheckpointError
from dfdet.tasks.benchmark import benchmark
from dfdet.tasks.common import run_entry
from dfdet.tasks.evaluate import evaluate
from dfdet.testing.media import ClipBank, make_celebdf

CONF = Path(__file__).resolve().parents[2] / "conf"
# the tiny synthetic data trained_run was trained on, as the synthetic set's data overrides
TINY_SET = [
    "+data_overrides.synthetic.source.identities=[4,2,2]",
    "+data_overrides.synthetic.source.frames_per_video=4",
    "+data_overrides.synthetic.source.image_size=64",
]


@pytest.fixture
def bench_cfg(trained_task_cfg, monkeypatch: pytest.MonkeyPatch):
    for name in ("FFPP", "CELEBDF", "DFDC"):  # a machine with real releases must not change what the tests see
        monkeypatch.delenv(f"DFDET_{name}_ROOT", raising=False)
    return lambda *overrides: trained_task_cfg("benchmark", "bench", *overrides)


def test_one_table_with_synthetic_and_a_skipped_set(bench_cfg, trained_task_cfg, tmp_path: Path) -> None:
    report = benchmark(bench_cfg("test_sets=[synthetic,ffpp,vfhq]", *TINY_SET), config_dir=str(CONF))
    direct = evaluate(trained_task_cfg("evaluate", "direct"))
    sets = {s["name"]: s for s in report["sets"]}
    synthetic = sets["synthetic"]
    assert synthetic["status"] == "ok"
    for key in ("auc", "video_auc", "eer", "ap", "acc", "video_acc"):
        assert synthetic["metrics"][key] == pytest.approx(direct[f"test/{key}"], abs=1e-6), key
    protocol = synthetic["protocol"]
    assert protocol["pipeline"] == "synthetic (rendered crops)" and protocol["frames_per_video"] == 4
    assert protocol["crop_size"] == 64 and protocol["input"] == "64 px" and protocol["video_aggregation"] == "mean"
    assert protocol["threshold"] == pytest.approx(direct["test/threshold"]), "evaluate's metrics.json threshold"
    assert protocol["threshold_source"] == "validation"
    assert protocol["videos"] == 8 and protocol["frames"] == 32  # 2 test identities x 2 videos x (real, fake) x 4

    assert sets["ffpp"]["status"] == "skipped" and "data.root is not set" in sets["ffpp"]["reason"]
    assert sets["ffpp"]["reason"].startswith("no release folder (+roots.ffpp=/path/to/release or DFDET_FFPP_ROOT): ")
    assert sets["vfhq"]["status"] == "skipped" and "no data config conf/data/vfhq.yaml" in sets["vfhq"]["reason"]
    assert report["ran"] == ["synthetic"] and report["skipped"] == ["ffpp", "vfhq"]
    assert report["mean"]["auc"] == pytest.approx(synthetic["metrics"]["auc"])  # the mean of the sets that ran

    out = tmp_path / "bench"
    table = pd.read_csv(out / "benchmark.csv")
    assert list(table["test_set"]) == ["synthetic", "ffpp", "vfhq", "mean"]
    assert list(table["status"]) == ["ok", "skipped", "skipped", "mean"]
    assert table.loc[0, "auc"] == pytest.approx(direct["test/auc"], abs=1e-6) and table.loc[0, "frames_per_video"] == 4
    saved = json.loads((out / "benchmark.json").read_text())
    assert saved["sets"][0]["metrics"]["video_auc"] == pytest.approx(direct["test/video_auc"], abs=1e-6)
    md = (out / "benchmark.md").read_text()
    assert "| synthetic |" in md and "**mean** (1 set)" in md and "- **ffpp**:" in md and "frames/video" in md
    # the bootstrap interval of evaluate, with the small-test-set mark (8 test videos)
    low, high = direct["test/video_auc_ci_low"], direct["test/video_auc_ci_high"]
    assert table.loc[0, "video_auc_ci_low"] == pytest.approx(low) and table.loc[
        0, "video_auc_ci_high"
    ] == pytest.approx(high)
    assert low <= direct["test/video_auc"] <= high and bool(table.loc[0, "small_test_set"])
    assert f"[{low:.3f}, {high:.3f}] *" in md and "video AUC 95% CI" in md
    assert (out / "benchmark.png").stat().st_size > 1000
    assert (out / "synthetic" / "metrics.json").is_file() and not (out / "ffpp" / "metrics.json").exists()


def test_a_release_is_preprocessed_and_reports_its_protocol(bench_cfg, tmp_path: Path) -> None:
    root = make_celebdf(tmp_path / "Celeb-DF-v2", ClipBank(tmp_path / "clips", frames=6, variants=2))
    tiny = ["data.frames_per_video=2", "preprocessor.detect_every=1", "preprocessor.cropper.size=64", "workers=1"]
    overrides = ",".join(f"'{o}'" for o in [*tiny, "progress=false"])
    cfg = bench_cfg("test_sets=[celebdf,dfdc]", f"+roots.celebdf={root}", f"paths.data_dir={tmp_path / 'data'}",
                    f"preprocess_overrides=[{overrides}]")  # fmt: skip
    report = benchmark(cfg, config_dir=str(CONF))  # preprocesses the release (no manifest yet), then evaluates
    celebdf, dfdc = report["sets"]
    assert celebdf["status"] == "ok" and dfdc["status"] == "skipped"
    assert (tmp_path / "data" / "processed" / "celebdf" / "manifest.parquet").is_file()
    protocol = celebdf["protocol"]
    assert protocol["pipeline"] == "celebdf (preprocess.py)" and protocol["frames_per_video"] == 2
    assert protocol["margin"] == 0.15 and protocol["crop_size"] == 64 and protocol["detector"].startswith("MTCNN")
    assert protocol["videos"] == 2 and protocol["frames"] == 4  # List_of_testing_videos.txt: one real, one fake
    assert 0.0 <= celebdf["metrics"]["video_auc"] <= 1.0
    again = benchmark(bench_cfg("test_sets=[celebdf]", f"+roots.celebdf={root}", f"paths.data_dir={tmp_path / 'data'}",
                                "preprocess=false"), config_dir=str(CONF))  # fmt: skip
    assert again["sets"][0]["metrics"] == celebdf["metrics"]  # the processed folder is reused as it is


def test_missing_ckpt_path_and_bad_test_sets_are_one_line(bench_cfg, capsys: pytest.CaptureFixture) -> None:
    missing = bench_cfg()
    missing.ckpt_path = "???"  # as composed without ckpt_path=
    for cfg, expected in (
        (missing, "ckpt_path is required"),
        (bench_cfg("test_sets=[]"), "test_sets=[] must be a non-empty list"),
        (bench_cfg("ckpt_path=/nonexistent/best.ckpt"), "not found"),
    ):
        with pytest.raises(SystemExit) as exit_info:
            run_entry(benchmark, cfg)
        assert exit_info.value.code == 2, expected
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and "\n" not in err and expected in err, err
    with pytest.raises(CheckpointError, match="ckpt_path is required"):
        benchmark(missing)


@pytest.mark.slow  # a subprocess importing the training stack
def test_benchmark_py_writes_its_table(trained_run, data_dir: Path, run_cli, tmp_path: Path) -> None:
    """The one subprocess smoke test of benchmark.py: data configs composed inside the running Hydra app."""
    out = tmp_path / "bench"
    args = [f"ckpt_path={trained_run[0] / 'checkpoints' / 'best.ckpt'}", "test_sets=[synthetic,celebdf]", *TINY_SET,
            f"paths.data_dir={data_dir}", f"hydra.run.dir={out}", "trainer.accelerator=cpu",
            "trainer.enable_progress_bar=false"]  # fmt: skip
    done = run_cli("benchmark.py", *args)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "frame AUC" in done.stdout and "skipped celebdf" in done.stdout
    assert {"benchmark.md", "benchmark.csv", "benchmark.json", "benchmark.png"} <= {p.name for p in out.iterdir()}


def test_protocol_of_sets_without_preprocess_json_and_threshold_sources(compose_cfg, tmp_path: Path) -> None:
    from omegaconf import OmegaConf

    from dfdet.contract import InputContract
    from dfdet.tasks.benchmark import data_protocol, model_input, threshold_source

    cfg = compose_cfg("evaluate", ["data=ffpp", f"paths.data_dir={tmp_path}", "ckpt_path=x"])  # not preprocessed
    assert data_protocol(cfg) == {
        "pipeline": "face (ProcessedSource), no preprocess.json",
        "frames_per_video": None, "detector": None, "margin": None, "crop_size": None,
    }  # fmt: skip
    audio = compose_cfg("evaluate", ["data=synthetic_audio", "ckpt_path=x"])
    assert data_protocol(audio)["pipeline"] == "audio (SyntheticAudioSource)"
    assert (
        model_input(InputContract(modality="audio", num_samples=8000, sample_rate=16000)) == "8000 samples @ 16000 Hz"
    )
    assert model_input(InputContract(modality="face", size=96, clip_len=8)) == "8x96 px clips"
    bench = OmegaConf.create({"threshold": None})
    assert threshold_source(bench, None) == "validation" and threshold_source(bench, 0.5) == "training config"
    assert threshold_source(OmegaConf.create({"threshold": 0.3}), None) == "config"


def test_only_data_configs_are_test_sets() -> None:
    from hydra import initialize_config_dir

    from dfdet.errors import DatasetNotFoundError
    from dfdet.tasks.benchmark import compose_data

    with initialize_config_dir(str(CONF), version_base="1.3"):
        assert compose_data("celebdf").source.layout == "celebdf"
        for name in ("vfhq", "base/datamodule", "../train", "x=y"):
            with pytest.raises(DatasetNotFoundError, match=r"no data config .* \(known: asvspoof2019_la, "):
                compose_data(name)
