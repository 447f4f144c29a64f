"""Miniature release trees of the speech benchmarks, with the exact file names and line formats of the releases and
tiny audio files (a plain module: conftest files are not importable by name)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
from audio_helpers import SR, tone

RNG = np.random.default_rng(7)


def _audio(path: Path, spoof: bool, seconds: float = 0.3) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, tone(RNG, seconds, spoof), SR)


def _lines(path: Path, lines: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")


# LA keys: SPEAKER TRIAL CODEC TRANSMISSION ATTACK KEY TRIM SUBSET (the codecs C1-C7 of the 2021 evaluation plan)
LA_TRIALS = [
    ("LA_0009", "LA_E_1000001", "none", "-", "bonafide", "bonafide", "eval"),
    ("LA_0009", "LA_E_1000002", "none", "-", "A07", "spoof", "eval"),
    ("LA_0012", "LA_E_1000003", "alaw", "ita_tx", "bonafide", "bonafide", "eval"),
    ("LA_0012", "LA_E_1000004", "alaw", "ita_tx", "A19", "spoof", "eval"),
    ("LA_0015", "LA_E_1000005", "opus", "sin_tx", "bonafide", "bonafide", "eval"),
    ("LA_0015", "LA_E_1000006", "opus", "sin_tx", "A07", "spoof", "eval"),
    ("LA_0015", "LA_E_1000007", "gsm", "loc_tx", "A08", "spoof", "progress"),
]


def make_asvspoof2021_la(root: Path, asv: bool = True) -> Path:
    """``ASVspoof2021_LA_eval/flac`` and the released ``keys/LA`` (CM metadata; ASV metadata and scores)."""
    cm = []
    for spk, utt, codec, trans, attack, key, subset in LA_TRIALS:
        _audio(root / "ASVspoof2021_LA_eval" / "flac" / f"{utt}.flac", key == "spoof")
        cm.append(f"{spk} {utt} {codec} {trans} {attack} {key} notrim {subset}")
    _lines(root / "keys" / "LA" / "CM" / "trial_metadata.txt", cm)
    if asv:  # ASV trials: target, nontarget (zero-effort) and spoof, scored by the organisers' ASV, row by row
        trials = [("target", 3.0), ("target", 2.0), ("target", 1.0), ("target", 0.0), ("nontarget", -1.0),
                  ("nontarget", 0.5), ("nontarget", 1.5), ("nontarget", -2.0), ("spoof", 2.5), ("spoof", 1.2),
                  ("spoof", 0.2), ("spoof", -0.3), ("spoof", 9.0)]  # fmt: skip
        meta, scores = [], []
        for i, (key, score) in enumerate(trials):
            subset = "progress" if i == len(trials) - 1 else "eval"  # another phase: left out
            attack = "A07" if key == "spoof" else "bonafide"
            meta.append(f"LA_0009 LA_E_{2000000 + i} none - {attack} {key} notrim {subset}")
            scores.append(f"LA_0009 LA_E_{2000000 + i} {score}")
        _lines(root / "keys" / "LA" / "ASV" / "trial_metadata.txt", meta)
        _lines(root / "keys" / "LA" / "ASV" / "ASVTorch_Kaldi" / "score.txt", scores)
    return root


def make_asvspoof2021_df(root: Path) -> Path:
    """``ASVspoof2021_DF_eval/flac`` and ``keys/DF/CM/trial_metadata.txt`` (13 columns, vocoder per trial)."""
    rows = [
        "LA_0031 DF_E_2000001 nocodec asvspoof bonafide bonafide notrim eval bonafide - - - -",
        "LA_0023 DF_E_2000002 nocodec asvspoof A14 spoof notrim eval traditional_vocoder - - - -",
        "TEF2 DF_E_2000003 low_m4a vcc2020 Task1-team20 spoof notrim eval neural_vocoder_nonautoregressive Task1 "
        "team20 FF E",
        "VCC2SF1 DF_E_2000004 low_m4a vcc2018 bonafide bonafide notrim eval bonafide - - - -",
    ]
    for row in rows:
        _audio(root / "ASVspoof2021_DF_eval" / "flac" / f"{row.split()[1]}.flac", " spoof " in row)
    _lines(root / "keys" / "DF" / "CM" / "trial_metadata.txt", rows)
    return root


def make_asvspoof5(root: Path) -> Path:
    """flac_T / flac_D / flac_E_eval and ``ASVspoof5_protocols/*.tsv`` (space-separated, 10 columns)."""
    parts = {"ASVspoof5.train.tsv": ("flac_T", "T"), "ASVspoof5.dev.track_1.tsv": ("flac_D", "D"),
             "ASVspoof5.eval.track_1.tsv": ("flac_E_eval", "E")}  # fmt: skip
    for protocol, (folder, letter) in parts.items():
        codec = ("C01", "3") if letter == "E" else ("-", "-")
        rows = [f"{letter}_0001 {letter}_0000000000 F - - - - bonafide bonafide -",
                f"{letter}_0002 {letter}_0000000001 M {codec[0]} {codec[1]} - AC3 A05 spoof -",
                f"{letter}_0003 {letter}_0000000002 F {codec[0]} {codec[1]} - AC1 A11 spoof -"]  # fmt: skip
        for row in rows:
            _audio(root / folder / f"{row.split()[1]}.flac", "spoof" in row)
        _lines(root / "ASVspoof5_protocols" / protocol, rows)
    return root


def make_in_the_wild(root: Path) -> Path:
    """``release_in_the_wild``: numbered wav files and ``meta.csv`` (file,speaker,label)."""
    rows = [("0.wav", "Alec Guinness", "spoof"), ("1.wav", "Alec Guinness", "bona-fide"),
            ("2.wav", "Barack Obama", "bona-fide"), ("3.wav", "Barack Obama", "spoof")]  # fmt: skip
    for name, _, label in rows:
        _audio(root / name, label == "spoof")
    _lines(root / "meta.csv", ["file,speaker,label", *(",".join(r) for r in rows)])
    return root


def make_partialspoof(root: Path) -> Path:
    """The ``database`` folder: con_wav per part, 2019-style CM protocols, segment labels (1 = bona fide) at 0.16 s."""
    for part, letter in (("train", "T"), ("dev", "D"), ("eval", "E")):
        labels = {f"LA_{letter}_0000001": np.array(["1", "1"]), f"CON_{letter}_0000002": np.array(["1", "0", "0"])}
        rows = [f"LA_0079 LA_{letter}_0000001 - - bonafide", f"LA_0079 CON_{letter}_0000002 - - spoof"]
        for utt in labels:
            _audio(root / part / "con_wav" / f"{utt}.wav", utt.startswith("CON"))
        _lines(root / "protocols" / "PartialSpoof_LA_cm_protocols" / f"PartialSpoof.LA.cm.{part}.trl.txt", rows)
        for resolution in (0.16, 0.64):
            (root / "segment_labels").mkdir(parents=True, exist_ok=True)
            np.save(root / "segment_labels" / f"{part}_seglab_{resolution}.npy", labels, allow_pickle=True)
    return root


def make_wavefake(root: Path) -> tuple[Path, Path, Path]:
    """``generated_audio/<vocoder>/*_gen.wav``, ``LJSpeech-1.1/wavs`` and ``jsut_ver1.1/basic5000/wav``."""
    fakes, lj, jsut = root / "generated_audio", root / "LJSpeech-1.1", root / "jsut_ver1.1"
    for i in range(1, 5):
        sentence = f"LJ001-{i:04d}"
        _audio(lj / "wavs" / f"{sentence}.wav", False)
        for vocoder in ("ljspeech_melgan", "ljspeech_hifiGAN"):
            _audio(fakes / vocoder / f"{sentence}_gen.wav", True)
    _audio(jsut / "basic5000" / "wav" / "BASIC5000_0001.wav", False)
    _audio(fakes / "jsut_parallel_wavegan" / "BASIC5000_0001_gen.wav", True)
    return fakes, lj, jsut


def make_mlaad(root: Path) -> tuple[Path, Path]:
    """MLAAD ``fake/<language>/<model>/`` (with meta.csv) and M-AILABS ``<lang_code>/by_book/...``."""
    mlaad, mailabs = root / "mlaad", root / "m-ailabs"
    for language, model in (("de", "tts_models_de_thorsten_vits"), ("en", "tts_models_en_ljspeech_glow-tts")):
        for i in range(2):
            _audio(mlaad / "fake" / language / model / f"{model}_{i}.wav", True)
        _lines(mlaad / "fake" / language / model / "meta.csv", ["path|original_file|language", f"x|y|{language}"])
    for code, speaker in (("de_DE", "eva_k"), ("en_US", "judy_bieber")):
        for i in range(2):
            _audio(mailabs / code / "by_book" / "female" / speaker / "book" / "wavs" / f"book_f{i:06d}.wav", False)
    return mlaad, mailabs
