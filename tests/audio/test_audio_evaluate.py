"""evaluate.py on audio: an audio checkpoint on ASVspoof-layout data it has not seen, and the audio-visual late
fusion of videos with sound tracks (preprocessed, scored by a face model and an audio model)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import av
import numpy as np
import pandas as pd
import pytest
from audio_helpers import make_asvspoof_tree, make_folder_tree, sklearn_eer
from hydra.utils import instantiate
from omegaconf import OmegaConf
from sklearn.metrics import roc_auc_score

from dfdet.errors import CheckpointError, DatasetNotFoundError, DfdetError, ManifestError
from dfdet.metrics.fusion import fusion_metrics, fusion_table, late_fusion, weight_sweep
from dfdet.models import load_detector
from dfdet.models.audio import LCNN
from dfdet.models.frontends import LFCC
from dfdet.models.scoring import score_sound_tracks, score_video_audio
from dfdet.tasks.evaluate import evaluate
from dfdet.tasks.preprocess import preprocess
from dfdet.tasks.train import train
from dfdet.testing.media import face_frames, make_av_folder, write_corrupt, write_video


@pytest.fixture
def audio_ckpt(tiny_cfg, tiny_audio, asvspoof_root: Path, tmp_path: Path) -> Path:
    """A tiny LCNN trained for one epoch on a generated ASVspoof-layout tree."""
    train(tiny_cfg("data=asvspoof2019_la", f"data.root={asvspoof_root}", *tiny_audio, f"paths.output_dir={tmp_path}/a"))
    return tmp_path / "a" / "checkpoints" / "best.ckpt"


def test_evaluate_py_reports_eer_on_asvspoof_layout_data(audio_ckpt: Path, run_cli, tmp_path: Path) -> None:
    other = make_asvspoof_tree(tmp_path / "other" / "LA", per_class=6, seed=1)
    out = tmp_path / "eval"
    args = [f"ckpt_path={audio_ckpt}", "data=asvspoof2019_la", f"data.root={other}", f"paths.output_dir={out}"]
    done = run_cli("evaluate.py", *args, "trainer.enable_progress_bar=false")
    assert done.returncode == 0, done.stderr[-2000:]
    metrics = json.loads((out / "metrics.json").read_text())
    table = pd.read_csv(out / "predictions.csv")
    assert len(table) == 12 and table["video"].str.startswith("asvspoof2019_la/LA_E_").all()
    assert metrics["test/eer"] == pytest.approx(sklearn_eer(table["score"], table["label"]), abs=1e-6)
    protocol = (other / "ASVspoof2019_LA_cm_protocols" / "ASVspoof2019.LA.cm.eval.trl.txt").read_text().split("\n")
    system = {f"asvspoof2019_la/{line.split()[1]}": line.split()[3] for line in protocol if line}
    for attack in ("A07", "A08"):  # the eval protocol's attacks, each against all bona fide utterances
        rows = table[table["video"].map(system).isin(["-", attack])]
        assert metrics[f"test/eer_{attack}"] == pytest.approx(sklearn_eer(rows["score"], rows["label"]), abs=1e-6)
    assert "eer" in done.stdout
    assert metrics["test/ci_resampled"] == "speakers" and metrics["test/small_test_set"] is True  # 6 per class


def test_folder_tree_trains_evaluates_and_exports(tiny_cfg, tiny_audio, compose_cfg, tmp_path: Path) -> None:
    from dfdet.tasks.export import export

    root = tmp_path / "mine"
    for split in ("train", "val", "test"):  # speaker-disjoint layout: <root>/<split>/{real,fake/<method>}/
        make_folder_tree(root / split, n=6)
    train(tiny_cfg("data=audio_folder", f"data.root={root}", *tiny_audio, f"paths.output_dir={tmp_path / 'run'}"))
    ckpt = tmp_path / "run" / "checkpoints" / "best.ckpt"
    out = tmp_path / "eval"
    metrics = evaluate(compose_cfg("evaluate", [f"ckpt_path={ckpt}", f"paths.output_dir={out}", "trainer=cpu"]))
    table = pd.read_csv(out / "predictions.csv")
    assert len(table) == 14 and table["video"].str.startswith("audio_folder/").all()  # 7 real, 6 tts, 1 vc
    assert metrics["test/eer"] == pytest.approx(sklearn_eer(table["score"], table["label"]), abs=1e-6)
    tts = table[~table["video"].str.contains("/vc/")]  # the attack of each file is its fake/<method>/ folder
    assert metrics["test/eer_tts"] == pytest.approx(sklearn_eer(tts["score"], tts["label"]), abs=1e-6)
    assert "test/eer_vc" in metrics
    exported = export(compose_cfg("export", [f"ckpt_path={ckpt}", f"output_dir={tmp_path / 'exp'}", "speed=null"]))
    assert exported["onnx"]["path"].endswith(".onnx") and max(exported["onnx"]["max_abs_diff"].values()) <= 1e-4


def test_evaluate_fuses_the_sound_track_with_the_face_score(
    trained_run, audio_ckpt: Path, preprocess_cfg, compose_cfg, tmp_path: Path
) -> None:
    root = tmp_path / "av"
    written = make_av_folder(root, per_split=2)
    preprocess(preprocess_cfg("data=folder", f"data.root={root}"))
    face_ckpt = trained_run[0] / "checkpoints" / "best.ckpt"
    out = tmp_path / "eval"
    cfg = compose_cfg(
        "evaluate",
        [
            f"ckpt_path={face_ckpt}",
            "data=folder",
            f"data.root={root}",
            f"paths.data_dir={tmp_path / 'data'}",  # where preprocess_cfg wrote processed/folder
            f"paths.output_dir={out}",
            "trainer.accelerator=cpu",
            "trainer.enable_progress_bar=false",
            f"audio_ckpt_path={audio_ckpt}",
            "fusion.audio_weight=0.4",
        ],
    )
    metrics = evaluate(cfg)

    table = pd.read_csv(out / "av_predictions.csv")
    frames = pd.read_csv(out / "predictions.csv")
    assert sorted(table["video"]) == sorted(frames["video"].unique())  # one row per evaluated video
    files = sorted(Path(f).relative_to(root).as_posix() for f in table["file"])
    assert files == sorted(written.loc[written["split"] == "test", "file"])  # each resolved to its source video
    by_video = frames.groupby("video").agg(score=("score", "mean"), label=("label", "max"))
    np.testing.assert_allclose(table["video_score"], by_video.loc[table["video"], "score"], atol=1e-6)
    assert (table["label"].to_numpy() == by_video.loc[table["video"], "label"].to_numpy()).all()

    # every sound track is scored as score_video_audio scores it on its own; the silent video keeps its face score
    audio_model, _ = load_detector(audio_ckpt)
    silent = table["file"].str.contains("silent")
    assert silent.sum() == 1 and table.loc[silent, "audio_status"].item() == "no audio track"
    assert table.loc[silent, "audio_score"].isna().all()
    for row in table[~silent].itertuples():
        assert row.audio_status == "ok"
        assert row.audio_score == pytest.approx(score_video_audio(audio_model, row.file, 8000), abs=1e-6)
    expected = np.where(silent, table["video_score"], 0.6 * table["video_score"] + 0.4 * table["audio_score"])
    np.testing.assert_allclose(table["fused_score"], expected, atol=1e-9)

    # the metrics are those of the table, and the sweep's weight 0 is the face model's own video AUC
    with_audio = table[~silent]
    assert metrics["test/videos"] == len(table) and metrics["test/videos_with_audio"] == len(with_audio)
    assert metrics["test/audio_auc"] == pytest.approx(roc_auc_score(with_audio["label"], with_audio["audio_score"]))
    assert metrics["test/av_auc"] == pytest.approx(roc_auc_score(table["label"], table["fused_score"]))
    sweep = pd.read_csv(out / "av_fusion_weights.csv").set_index("audio_weight")
    assert sweep.loc[0.0, "auc"] == pytest.approx(metrics["test/video_auc"], abs=1e-6)
    assert sweep.loc[0.4, "auc"] == pytest.approx(metrics["test/av_auc"])
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["test/av_eer"] == pytest.approx(metrics["test/av_eer"])
    assert (out / "av_roc.png").stat().st_size > 0

    # a face checkpoint given as the audio model, or the two swapped, or a weight outside [0, 1]: refused up front
    with pytest.raises(CheckpointError, match="is a face model"):
        evaluate(OmegaConf.merge(cfg, {"audio_ckpt_path": str(face_ckpt)}))
    with pytest.raises(CheckpointError, match="is an audio model"):
        evaluate(OmegaConf.merge(cfg, {"ckpt_path": str(audio_ckpt)}))
    with pytest.raises(DfdetError, match="audio_weight"):
        evaluate(OmegaConf.merge(cfg, {"fusion": {"audio_weight": 1.5}}))

    # source videos gone since preprocessing (the release folder moved): one error before any scoring
    for video in root.rglob("*.mp4"):
        video.unlink()
    again = OmegaConf.merge(cfg, {"paths": {"output_dir": str(tmp_path / "again")}})
    with pytest.raises(DatasetNotFoundError, match="None of the 5 source videos"):
        evaluate(again)
    assert not (tmp_path / "again" / "predictions.csv").exists()


def test_data_without_source_videos_is_refused_before_scoring(
    trained_run, audio_ckpt: Path, tiny_cfg, compose_cfg, data_dir: Path, tmp_path: Path
) -> None:
    datamodule = instantiate(tiny_cfg().data)
    with pytest.raises(ManifestError, match="no source videos"):
        datamodule.video_files("test")
    cfg = compose_cfg(  # the face model's own (synthetic, rendered) data
        "evaluate",
        [
            f"ckpt_path={trained_run[0] / 'checkpoints' / 'best.ckpt'}",
            f"paths.data_dir={data_dir}",
            f"paths.output_dir={tmp_path / 'eval'}",
            "trainer.accelerator=cpu",
            f"audio_ckpt_path={audio_ckpt}",
        ],
    )
    with pytest.raises(ManifestError, match="no source videos"):
        evaluate(cfg)
    assert not (tmp_path / "eval" / "predictions.csv").exists()


def test_sound_tracks_missing_or_unreadable_are_marked_not_fatal(tmp_path: Path) -> None:
    model = LCNN(LFCC(), channels=(4, 4, 4, 4, 4), embedding=8).eval()
    voice = (0.2 * np.sin(2 * np.pi * 150 * np.arange(16000) / 16000)).astype(np.float32)
    files = [
        write_video(tmp_path / "talk.mp4", face_frames(4), audio=voice),
        write_video(tmp_path / "mute.mp4", face_frames(4)),
        write_corrupt(tmp_path / "broken.mp4"),
        tmp_path / "empty_track.mkv",
    ]
    with av.open(str(files[-1]), "w") as container:  # an audio stream that holds no sample
        container.add_stream("aac", rate=16000)
        video = container.add_stream("mpeg4", rate=10)
        video.width, video.height, video.pix_fmt = 64, 48, "yuv420p"
        container.mux(video.encode(av.VideoFrame.from_ndarray(np.zeros((48, 64, 3), np.uint8), format="rgb24")))
        container.mux(video.encode(None))
    scored = score_sound_tracks(model, files, num_samples=8000)
    statuses = list(scored["audio_status"])
    assert statuses[:2] == ["ok", "no audio track"] and "broken.mp4" in statuses[2]
    assert statuses[3] == "no audio track"
    assert 0.0 <= scored["audio_score"][0] <= 1.0 and scored["audio_score"][1:].isna().all()


def test_fusion_metrics_on_a_known_table() -> None:
    videos = pd.DataFrame({"video": list("abcd"), "label": [0, 0, 1, 1], "score": [0.1, 0.6, 0.4, 0.9]})
    audio = pd.DataFrame(
        {"file": list("abcd"), "audio_score": [0.2, 0.1, 0.9, np.nan], "audio_status": ["ok"] * 3 + ["no audio track"]}
    )
    table = fusion_table(videos, audio, audio_weight=0.5)
    np.testing.assert_allclose(table["fused_score"], [0.15, 0.35, 0.65, 0.9])
    assert late_fusion(0.4, np.nan, 0.5) == 0.4 and late_fusion(0.4, None) == 0.4
    m = fusion_metrics(table, video_threshold=0.5, audio_threshold=0.5, audio_weight=0.5)
    assert m["audio_auc"] == 1.0 and m["av_auc"] == 1.0 and m["videos_with_audio"] == 3
    # the face model alone misranks b over c (AUC 0.75); the sweep's weight 0 says so
    assert weight_sweep(table).set_index("audio_weight").loc[0.0, "auc"] == 0.75
    assert m["av_acc"] == 1.0  # calls: 0.15, 0.35 real; 0.65 fake; d (no sound) 0.9 > the face threshold
    with pytest.raises(ValueError, match="audio_weight"):
        late_fusion(0.5, 0.5, 1.5)


def test_real_talking_heads_with_a_revoiced_copy(
    shared_data: Path, trained_run, audio_ckpt: Path, preprocess_cfg, compose_cfg, tmp_path: Path
) -> None:
    """Real videos of ../shared/data/video and copies whose voice is vocoded: preprocessed and fused end to end."""
    from dfdet.data.audio.io import extract_audio_track
    from dfdet.data.audio.synthetic.attacks import gl_vocoder
    from dfdet.data.layouts import split_by_hash

    videos = sorted((shared_data / "video").glob("*.mp4"))
    if not videos:
        pytest.skip("no videos in the shared data folder")
    root = tmp_path / "release"
    stems = (f"talk{k}" for k in range(10_000) if split_by_hash(f"talk{k}", 0.1, 0.1) == "test")
    for path, stem in zip(videos, stems, strict=False):
        with av.open(str(path)) as container:  # the first 2 s: frames and voice
            stream = container.streams.video[0]
            fps = round(float(stream.average_rate))
            decoded = itertools.islice(container.decode(stream), 2 * fps)
            frames = [f.to_ndarray(format="rgb24") for f in decoded]
        voice = extract_audio_track(path, 44100)[: 2 * 44100]  # kept at 44.1 kHz: evaluate resamples it
        write_video(root / f"real/{stem}.mp4", frames, fps, voice, sample_rate=44100)
        revoiced = gl_vocoder(voice, np.random.default_rng(0))
        write_video(root / f"fake/{stem}.mp4", frames, fps, revoiced, sample_rate=44100)
    preprocess(preprocess_cfg("data=folder", f"data.root={root}"))
    out = tmp_path / "eval"
    metrics = evaluate(
        compose_cfg(
            "evaluate",
            [
                f"ckpt_path={trained_run[0] / 'checkpoints' / 'best.ckpt'}",
                "data=folder",
                f"data.root={root}",
                f"paths.data_dir={tmp_path / 'data'}",
                f"paths.output_dir={out}",
                "trainer.accelerator=cpu",
                "trainer.enable_progress_bar=false",
                f"audio_ckpt_path={audio_ckpt}",
            ],
        )
    )
    table = pd.read_csv(out / "av_predictions.csv")
    assert len(table) == 2 * len(videos) and (table["audio_status"] == "ok").all()
    assert metrics["test/videos_with_audio"] == len(table)
    audio_model, _ = load_detector(audio_ckpt)
    for row in table.itertuples():  # 44.1 kHz tracks scored at the model's 16 kHz
        with av.open(row.file) as container:
            assert container.streams.audio[0].rate == 44100
        assert row.audio_score == pytest.approx(score_video_audio(audio_model, row.file, 8000, 16000), abs=1e-6)
