"""The speech benchmarks in their release layouts (generated trees): manifests, condition columns, ASV scores, and
one missing-data message naming what is expected where; an evaluation on a 2021 LA tree reports the challenge
metrics."""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from benchmark_trees import (
    LA_TRIALS,
    make_asvspoof5,
    make_asvspoof2021_df,
    make_asvspoof2021_la,
    make_in_the_wild,
    make_mlaad,
    make_partialspoof,
    make_wavefake,
)

from dfdet.data.audio.benchmarks import (
    ArenaProtocolSource,
    ASVspoof5Source,
    ASVspoof2021Source,
    InTheWildSource,
    PartialSpoofSource,
)
from dfdet.data.audio.protocols import load_pickled_npy
from dfdet.data.audio.vocoded import MLAADSource, WaveFakeSource
from dfdet.errors import DatasetNotFoundError, ManifestError
from dfdet.metrics.spoofing import asv_errors, bona_fide_scores, min_tdcf, per_condition_eer


def test_asvspoof2021_la_keys_codecs_phase_and_asv_scores(tmp_path: Path) -> None:
    root = make_asvspoof2021_la(tmp_path / "2021")
    source = ASVspoof2021Source(str(root), "LA")
    df = source.manifest()
    assert len(df) == 6 and set(df["split"]) == {"test"}  # the progress-phase trial is left out
    assert set(df["codec"]) == {"none", "alaw", "opus"} and set(df["method"]) == {"real", "A07", "A19"}
    assert (df.loc[df["method"] == "real", "label"] == 0).all() and df["label"].sum() == 3
    assert all(Path(p).is_file() and p.endswith(".flac") for p in df["path"])
    assert len(ASVspoof2021Source(str(root), "LA", phase=None).manifest()) == 7
    target, nontarget, spoof = source.asv_scores("test")  # the ASV trial of the progress phase is left out
    assert (
        list(target) == [3, 2, 1, 0] and list(nontarget) == [-1, 0.5, 1.5, -2] and list(spoof) == [2.5, 1.2, 0.2, -0.3]
    )
    assert asv_errors(target, nontarget, spoof).threshold == 0.5  # as worked by hand in tests/metrics
    assert source.asv_scores("val") is None and source.tdcf_legacy is False

    shutil.rmtree(root / "keys")
    with pytest.raises(DatasetNotFoundError) as err:
        source.check()
    assert "keys/LA/CM/trial_metadata.txt" in str(err.value) and "keys_root" in str(err.value)


def test_asvspoof2019_la_finds_the_release_asv_scores(asvspoof_root: Path) -> None:
    from dfdet.data.audio.sources import ASVspoof2019LASource

    source = ASVspoof2019LASource(str(asvspoof_root))
    assert source.asv_scores("test") is None and source.tdcf_legacy  # no ASV scores in the tree: no t-DCF
    scores = asvspoof_root / "ASVspoof2019_LA_asv_scores"
    scores.mkdir()
    (scores / "ASVspoof2019.LA.asv.eval.gi.trl.scores.txt").write_text(
        "bonafide target 3.0\nbonafide nontarget -1.0\nA07 spoof 2.5\nbonafide target 1.0\nA19 spoof -0.3\n"
    )  # SOURCE KEY SCORE, as the 2019 release writes them
    target, nontarget, spoof = source.asv_scores("test")
    assert list(target) == [3.0, 1.0] and list(nontarget) == [-1.0] and list(spoof) == [2.5, -0.3]
    assert source.asv_scores("val") is None  # no dev scores written
    (scores / "ASVspoof2019.LA.asv.eval.gi.trl.scores.txt").write_text("bonafide target high\n")
    with pytest.raises(ManifestError, match="SCORE is not a number"):
        source.asv_scores("test")


def test_asvspoof2021_df_vocoders_and_bad_lines(tmp_path: Path) -> None:
    root = make_asvspoof2021_df(tmp_path / "2021")
    df = ASVspoof2021Source(str(root), "DF").manifest()
    assert set(df["codec"]) == {"nocodec", "low_m4a"} and df["label"].tolist() == [0, 1, 1, 0]
    spoof = df[df["label"] == 1]
    assert spoof["vocoder"].tolist() == ["traditional_vocoder", "neural_vocoder_nonautoregressive"]
    assert (
        spoof["method"].tolist() == ["A14", "Task1-team20"]
        and ASVspoof2021Source(str(root), "DF").asv_scores("test") is None
    )
    meta = root / "keys" / "DF" / "CM" / "trial_metadata.txt"
    meta.write_text(meta.read_text() + "LA_0031 DF_E_9 nocodec asvspoof A14 maybe notrim eval x\n")
    with pytest.raises(ManifestError, match=r"trial_metadata\.txt:5: expected 'SPEAKER UTT_ID CODEC"):
        ASVspoof2021Source(str(root), "DF").manifest()


def test_asvspoof5_splits_codecs_and_missing_parts(tmp_path: Path) -> None:
    root = make_asvspoof5(tmp_path / "asv5")
    df = ASVspoof5Source(str(root)).manifest()
    assert df.groupby("split").size().to_dict() == {"test": 3, "train": 3, "val": 3}
    assert set(df.loc[df["split"] == "train", "codec"]) == {"none"} and set(df["method"]) == {"real", "A05", "A11"}
    assert set(df.loc[(df["split"] == "test") & (df["label"] == 1), "codec"]) == {"C01"}
    shutil.rmtree(root / "flac_T")
    (root / "ASVspoof5_protocols" / "ASVspoof5.dev.track_1.tsv").unlink()
    with pytest.raises(DatasetNotFoundError) as err:
        ASVspoof5Source(str(root)).check()
    msg = str(err.value)
    assert "flac_T" in msg and "ASVspoof5.dev.track_1.tsv" in msg and "splits=[test]" in msg
    assert len(ASVspoof5Source(str(root), splits=["test"]).manifest()) == 3  # the evaluation part alone


def test_in_the_wild_meta_csv(tmp_path: Path) -> None:
    root = make_in_the_wild(tmp_path / "release_in_the_wild")
    df = InTheWildSource(str(root)).manifest()
    assert df["label"].tolist() == [1, 0, 0, 1] and df["utt_id"].tolist() == ["0", "1", "2", "3"]
    assert df["speaker"].tolist()[:2] == ["Alec Guinness", "Alec Guinness"] and set(df["split"]) == {"test"}
    (root / "meta.csv").write_text("file,speaker,label\n0.wav,A,fake\n")
    with pytest.raises(ManifestError, match=r"meta\.csv:2: label must be spoof or bona-fide, got 'fake'"):
        InTheWildSource(str(root)).manifest()
    (root / "meta.csv").unlink()
    with pytest.raises(DatasetNotFoundError, match=r"(?s)missing: meta\.csv.*file,speaker,label"):
        InTheWildSource(str(root)).check()


def test_speech_arena_protocol_csv(tmp_path: Path) -> None:
    root = make_in_the_wild(tmp_path / "set")  # any audio files
    (root / "protocol.csv").write_text("file_name,label\n0.wav,spoof\n1.wav,bonafide\n")
    df = ArenaProtocolSource(str(root), name="myset").manifest()
    assert (
        df["label"].tolist() == [1, 0]
        and set(df["dataset"]) == {"myset"}
        and df["method"].tolist() == ["spoof", "real"]
    )
    (root / "protocol.csv").write_text("file_name,label\n7.wav,spoof\n")
    with pytest.raises(ManifestError, match="1 of 1 listed audio files are missing"):
        ArenaProtocolSource(str(root)).manifest()
    with pytest.raises(DatasetNotFoundError, match="no other.csv"):
        ArenaProtocolSource(str(root), protocol="other.csv").check()


def test_partialspoof_segment_labels(tmp_path: Path) -> None:
    root = make_partialspoof(tmp_path / "database")
    df = PartialSpoofSource(str(root)).manifest()
    assert df.groupby("split").size().to_dict() == {"test": 2, "train": 2, "val": 2}
    partial = df[df["utt_id"] == "CON_E_0000002"].iloc[0]
    # the release says 1 = bona fide: "100" (bona fide, then two spoofed segments) becomes "011" (1 = spoof)
    assert partial["label"] == 1 and partial["segment_labels"] == "011" and partial["segment_resolution"] == 0.16
    assert df.loc[df["utt_id"] == "LA_E_0000001", "segment_labels"].item() == "00"
    assert "segment_labels" not in PartialSpoofSource(str(root), resolution=None).manifest()
    with pytest.raises(DatasetNotFoundError, match="not 0.5"):
        PartialSpoofSource(str(root), resolution=0.5)
    (root / "segment_labels" / "dev_seglab_0.64.npy").unlink()
    with pytest.raises(DatasetNotFoundError, match=r"segment_labels/dev_seglab_0\.64\.npy"):
        PartialSpoofSource(str(root), resolution=0.64).check()


class _RunsCode:
    def __reduce__(self):  # unpickling it would call print (any callable could be here)
        return (print, ("unpickled code ran",))


def test_label_files_cannot_run_code(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "evil.npy"
    np.save(path, np.array({"utt": _RunsCode()}, dtype=object), allow_pickle=True)
    with pytest.raises(ManifestError, match="builtins.print is not allowed"):
        load_pickled_npy(path)
    assert "unpickled code ran" not in capsys.readouterr().out
    np.save(path, np.arange(3))  # a plain array needs no pickle
    assert load_pickled_npy(path).tolist() == [0, 1, 2]
    path.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(ManifestError, match="Cannot read the label file"):
        load_pickled_npy(path)


def test_wavefake_vocoders_reals_and_sentence_splits(tmp_path: Path) -> None:
    fakes, lj, jsut = make_wavefake(tmp_path)
    df = WaveFakeSource(str(fakes), str(lj), str(jsut)).manifest()
    assert df.groupby("method").size().to_dict() == {"jsut_parallel_wavegan": 1, "ljspeech_hifiGAN": 4,
                                                     "ljspeech_melgan": 4, "real": 5}  # fmt: skip
    assert set(df.loc[df["label"] == 1, "vocoder"]) == {"melgan", "hifiGAN", "parallel_wavegan"}
    assert set(df.loc[df["language"] == "ja", "speaker"]) == {"jsut"}
    with pytest.raises(DatasetNotFoundError, match=r"data\.source\.jsut_root \(JSUT reals"):
        WaveFakeSource(str(fakes), str(lj)).check()
    only = WaveFakeSource(str(tmp_path), str(lj), vocoders=["ljspeech_melgan"], val_fraction=0.5, test_fraction=0.5)
    split = only.manifest()  # a sentence's real and vocoded renditions land in one split
    sentence = split["utt_id"].str.split("/").str[1].str.removesuffix("_gen")
    assert split.groupby(sentence)["split"].nunique().max() == 1 and len(split) == 8
    with pytest.raises(DatasetNotFoundError, match="no vocoder folder ljspeech_waveglow"):
        WaveFakeSource(str(fakes), str(lj), vocoders=["ljspeech_waveglow"]).check()


def test_mlaad_languages_models_and_mailabs_reals(tmp_path: Path) -> None:
    mlaad, mailabs = make_mlaad(tmp_path)
    df = MLAADSource(str(mlaad), str(mailabs)).manifest()
    assert df.groupby(["language", "label"]).size().tolist() == [2, 2, 2, 2]
    assert set(df["method"]) == {"real", "de/tts_models_de_thorsten_vits", "en/tts_models_en_ljspeech_glow-tts"}
    assert set(df.loc[df["label"] == 0, "speaker"]) == {"eva_k", "judy_bieber"}
    assert set(MLAADSource(str(mlaad), str(mailabs), languages=["de"]).manifest()["language"]) == {"de"}
    shutil.rmtree(mailabs / "en_US")
    with pytest.raises(DatasetNotFoundError, match=r"no <lang_code>/ folder for en .*languages="):
        MLAADSource(str(mlaad), str(mailabs)).check()
    with pytest.raises(DatasetNotFoundError, match=r"reals_root \(M-AILABS\) is not set"):
        MLAADSource(str(mlaad)).check()


@pytest.mark.parametrize(
    ("source", "name"),
    [
        (ASVspoof2021Source(None, "DF"), "ASVspoof 2021 DF"),
        (ASVspoof5Source(None), "ASVspoof 5"),
        (InTheWildSource(None), "In-the-Wild"),
        (ArenaProtocolSource(None), "Speech DF Arena protocol"),
        (PartialSpoofSource(None), "PartialSpoof"),
        (WaveFakeSource(None), "WaveFake"),
        (MLAADSource(None), "MLAAD"),
    ],
)
def test_unset_root_is_one_line_with_the_layout(source, name: str) -> None:
    with pytest.raises(DatasetNotFoundError) as err:
        source.check()
    assert str(err.value).startswith(f"{name}: data.root is not set") and "Expected layout" in str(err.value)


def test_evaluate_reports_challenge_metrics_on_a_2021_la_tree(
    untrained_audio_ckpt: Path, compose_cfg, tmp_path: Path
) -> None:
    from dfdet.tasks.evaluate import evaluate

    root = make_asvspoof2021_la(tmp_path / "2021")
    out = tmp_path / "eval"
    cfg = compose_cfg("evaluate", [f"ckpt_path={untrained_audio_ckpt}", "data=asvspoof2021_la", f"data.root={root}",
                                   f"paths.output_dir={out}", "trainer=cpu"])  # fmt: skip
    metrics = evaluate(cfg)
    saved = json.loads((out / "metrics.json").read_text())
    table = pd.read_csv(out / "predictions.csv")
    codec = {f"asvspoof2021_la/{t[1]}": t[2] for t in LA_TRIALS if t[-1] == "eval"}
    p, y = table["score"].to_numpy(), table["label"].to_numpy()
    expected = per_condition_eer(p, y, table["video"].map(codec).to_numpy())
    for name in ("none", "alaw", "opus"):
        assert saved[f"test/eer_codec_{name}"] == pytest.approx(expected[name]) == metrics[f"test/eer_codec_{name}"]
    asv = asv_errors([3, 2, 1, 0], [-1, 0.5, 1.5, -2], [2.5, 1.2, 0.2, -0.3])
    assert saved["test/min_tdcf"] == pytest.approx(
        min_tdcf(bona_fide_scores(p[y == 0]), bona_fide_scores(p[y == 1]), asv)
    )
    assert saved["test/min_dcf"] >= 0 and "test/act_dcf" in saved and "test/eer_A07" in saved


@pytest.mark.slow  # two evaluations through benchmark.py's function
def test_benchmark_reports_the_pooled_eer_beside_the_mean(
    untrained_audio_ckpt: Path, compose_cfg, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    from dfdet.metrics.functional import binary_eer
    from dfdet.tasks.benchmark import benchmark

    monkeypatch.delenv("DFDET_ASVSPOOF5_ROOT", raising=False)
    wild = make_in_the_wild(tmp_path / "wild")
    arena = make_in_the_wild(tmp_path / "arena")
    (arena / "protocol.csv").write_text("file_name,label\n0.wav,spoof\n1.wav,bonafide\n2.wav,bonafide\n3.wav,spoof\n")
    out = tmp_path / "bench"
    overrides = [f"ckpt_path={untrained_audio_ckpt}", "test_sets=[in_the_wild,speech_arena,asvspoof5]",
                 f"+roots.in_the_wild={wild}", f"+roots.speech_arena={arena}", f"paths.output_dir={out}",
                 "trainer.accelerator=cpu", "trainer.enable_progress_bar=false"]  # fmt: skip
    cfg = compose_cfg("benchmark", overrides)
    report = benchmark(cfg, config_dir=str(Path(__file__).resolve().parents[2] / "conf"))
    assert report["ran"] == ["in_the_wild", "speech_arena"] and report["skipped"] == ["asvspoof5"]
    tables = [pd.read_csv(out / name / "predictions.csv") for name in report["ran"]]
    both = pd.concat(tables)
    pooled = float(binary_eer(torch.tensor(both["score"].to_numpy()), torch.tensor(both["label"].to_numpy())))
    assert report["pooled"]["eer"] == pytest.approx(pooled) and report["pooled"]["sets"] == report["ran"]
    eers = [s["metrics"]["eer"] for s in report["sets"] if s["status"] == "ok"]
    assert report["mean"]["eer"] == pytest.approx(sum(eers) / 2)  # the average EER, beside the pooled one
    md = (out / "benchmark.md").read_text()
    assert "**pooled** (one threshold, 2 sets)" in md and f"{pooled:.4f}" in md
    table = pd.read_csv(out / "benchmark.csv")
    assert table.loc[table["test_set"] == "pooled", "eer"].item() == pytest.approx(pooled)


@pytest.mark.slow  # real speech, vocoded, in two release layouts, through benchmark.py's function
def test_real_and_vocoded_speech_in_asvspoof_and_in_the_wild_layouts(
    untrained_audio_ckpt: Path, compose_cfg, shared_data: Path, tmp_path: Path
) -> None:
    import soundfile as sf
    import torch

    from dfdet.data.audio.io import load_audio
    from dfdet.data.audio.synthetic.attacks import codec, gl_vocoder
    from dfdet.metrics.functional import binary_eer
    from dfdet.tasks.benchmark import benchmark

    files = sorted((shared_data / "audio").rglob("*.flac")) + sorted((shared_data / "audio").glob("*.wav"))
    speech = np.concatenate([load_audio(f, 16000) for f in files])
    rng = np.random.default_rng(0)
    segments = [speech[i * 32000 : (i + 1) * 32000] for i in range(12)]  # 2-s pieces of real speech
    la, wild = tmp_path / "2021", tmp_path / "release_in_the_wild"
    (la / "ASVspoof2021_LA_eval" / "flac").mkdir(parents=True)
    wild.mkdir()
    keys, meta = [], ["file,speaker,label"]
    for i, piece in enumerate(segments):  # bona fide, a Griffin-Lim vocoder (A07), a lossy codec (A19), in turn
        kind = i % 3
        wave = piece if kind == 0 else gl_vocoder(piece, rng) if kind == 1 else codec(piece, rng)
        attack, key = ("bonafide", "bonafide") if kind == 0 else ("A07" if kind == 1 else "A19", "spoof")
        utt = f"LA_E_{3000000 + i}"
        sf.write(la / "ASVspoof2021_LA_eval" / "flac" / f"{utt}.flac", wave, 16000)
        keys.append(f"LA_00{i % 4:02d} {utt} {('none', 'alaw')[i % 2]} - {attack} {key} notrim eval")
        sf.write(wild / f"{i}.wav", wave, 16000)
        meta.append(f"{i}.wav,speaker {i % 4},{'bona-fide' if kind == 0 else 'spoof'}")
    (la / "keys" / "LA" / "CM").mkdir(parents=True)
    (la / "keys" / "LA" / "CM" / "trial_metadata.txt").write_text("\n".join(keys) + "\n")
    (wild / "meta.csv").write_text("\n".join(meta) + "\n")
    out = tmp_path / "bench"
    overrides = [f"ckpt_path={untrained_audio_ckpt}", "test_sets=[asvspoof2021_la,in_the_wild]",
                 f"+roots.asvspoof2021_la={la}", f"+roots.in_the_wild={wild}", f"paths.output_dir={out}",
                 "trainer.accelerator=cpu", "trainer.enable_progress_bar=false"]  # fmt: skip
    report = benchmark(
        compose_cfg("benchmark", overrides), config_dir=str(Path(__file__).resolve().parents[2] / "conf")
    )
    assert report["ran"] == ["asvspoof2021_la", "in_the_wild"]
    asvspoof = report["sets"][0]["metrics"]
    for key in ("eer", "eer_A07", "eer_A19", "eer_codec_none", "eer_codec_alaw", "min_dcf", "act_dcf"):
        assert 0.0 <= asvspoof[key] <= 2.0, key  # per attack and per codec, on real and vocoded speech
    both = pd.concat([pd.read_csv(out / name / "predictions.csv") for name in report["ran"]])
    assert len(both) == 24
    pooled = float(binary_eer(torch.tensor(both["score"].to_numpy()), torch.tensor(both["label"].to_numpy())))
    assert report["pooled"]["eer"] == pytest.approx(pooled)
