"""Sets of vocoded and synthesised speech whose bona fide side is another corpus: WaveFake (LJSpeech and JSUT reals)
and MLAAD (M-AILABS reals), each in its release layout (see :mod:`dfdet.data.audio.benchmarks` for the others).

Both are evaluation sets by default (``test_fraction: 1``); with ``val_fraction`` / ``test_fraction`` below one,
each file goes to a split by a hash of its sentence (WaveFake: the LJSpeech / JSUT sentence id, shared by the real
recording and every vocoder's rendition), so no sentence is in two splits.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from dfdet.data.audio.benchmarks import _require, _Source
from dfdet.data.audio.protocols import COLUMNS, missing_files
from dfdet.data.layouts import split_by_hash
from dfdet.errors import DatasetNotFoundError


def _split(key: str, val_fraction: float, test_fraction: float) -> str:
    return "test" if test_fraction >= 1 else split_by_hash(key, val_fraction, test_fraction)


def _wavs(folder: Path, pattern: str = "*.wav") -> list[Path]:
    return sorted(p for p in folder.glob(pattern) if p.is_file()) if folder.is_dir() else []


WAVEFAKE_SKETCH = (
    "<root>/<vocoder folder>/*_gen.wav, e.g. ljspeech_melgan/LJ001-0001_gen.wav, jsut_parallel_wavegan/"
    "BASIC5000_0001_gen.wav (the generated_audio/ folder of WaveFake)\n"
    "data.source.ljspeech_root: LJSpeech-1.1/ with wavs/LJ*.wav (reals of the ljspeech_* and common_voices_* folders)\n"
    "data.source.jsut_root: jsut_ver1.1/ with */wav/*.wav (reals of the jsut_* folders)"
)


class WaveFakeSource(_Source):
    """WaveFake (Frank & Schönherr 2021, "WaveFake: a data set to facilitate audio deepfake detection"): LJSpeech and
    JSUT sentences re-synthesised by each vocoder (MelGAN, MelGAN large, multi-band and full-band MelGAN, Parallel
    WaveGAN, WaveGlow, HiFi-GAN, and a Conformer + FastSpeech 2 TTS), against the original recordings.

    ``method`` is the vocoder folder (``ljspeech_melgan``, ...), ``vocoder`` the vocoder alone (``melgan``) and
    ``language`` ``en`` or ``ja``.

    Args:
        root: WaveFake's ``generated_audio`` folder (or the folder holding it).
        ljspeech_root: the ``LJSpeech-1.1`` folder.
        jsut_root: the ``jsut_ver1.1`` folder (needed when the JSUT vocoders are there).
        vocoders: the vocoder folders to use; None: every one found.
        val_fraction, test_fraction: shares of the split by sentence (``test_fraction: 1``: all test).
        check_files: verify that every listed file still exists.
    """

    name = "wavefake"
    title = "WaveFake"
    sketch = WAVEFAKE_SKETCH

    def __init__(self, root: str | None, ljspeech_root: str | None = None, jsut_root: str | None = None,
                 vocoders: list[str] | None = None, val_fraction: float = 0.0, test_fraction: float = 1.0,
                 check_files: bool = True) -> None:  # fmt: skip
        self.root, self.ljspeech_root, self.jsut_root = root, ljspeech_root, jsut_root
        self.vocoders, self.val_fraction, self.test_fraction = vocoders, val_fraction, test_fraction
        self.check_files = check_files

    def _fakes(self) -> dict[str, Path]:
        root = self._root()
        if (root / "generated_audio").is_dir():
            root = root / "generated_audio"
        found = {d.name: d for d in sorted(root.iterdir()) if d.is_dir() and _wavs(d)}
        if self.vocoders is not None:
            unknown = [v for v in self.vocoders if v not in found]
            if unknown:
                raise DatasetNotFoundError(f"WaveFake at {root} has no vocoder folder {', '.join(unknown)} "
                                           f"(found: {', '.join(found) or 'none'})")  # fmt: skip
            found = {v: found[v] for v in self.vocoders}
        if not found:
            raise DatasetNotFoundError(f"WaveFake at {root} holds no vocoder folder of wav files. Expected layout:\n"
                                       f"{self.sketch}")  # fmt: skip
        return found

    def _reals(self, language: str) -> tuple[str, Path, str]:
        """(config key, folder, glob pattern) of the reals of ``language``."""
        if language == "ja":
            return "jsut_root", Path(self.jsut_root or ""), "*/wav/*.wav"
        return "ljspeech_root", Path(self.ljspeech_root or ""), "wavs/*.wav"

    def check(self) -> None:
        languages = {_language(v) for v in self._fakes()}
        missing = []
        for language in sorted(languages):
            key, folder, pattern = self._reals(language)
            if not getattr(self, key) or not _wavs(folder.expanduser(), pattern):
                missing.append(f"data.source.{key} ({'JSUT' if language == 'ja' else 'LJSpeech'} reals: {pattern})")
        if missing:
            raise DatasetNotFoundError(f"WaveFake at {self._root()}: missing {'; '.join(missing)}. Expected layout:\n"
                                       f"{self.sketch}")  # fmt: skip

    def manifest(self) -> pd.DataFrame:
        self.check()
        fakes = self._fakes()
        rows: list[dict] = []
        for language in sorted({_language(v) for v in fakes}):
            _, folder, pattern = self._reals(language)
            for f in _wavs(folder.expanduser(), pattern):
                rows.append(self._row(f, f.stem, 0, "real", "-", language))
        for name, folder in fakes.items():
            for f in _wavs(folder):
                sentence = f.stem.removesuffix("_gen")
                rows.append(self._row(f, sentence, 1, name, name.split("_", 1)[1] if "_" in name else name,
                                      _language(name)))  # fmt: skip
        df = pd.DataFrame(rows, columns=[*COLUMNS, "vocoder", "language"])
        if self.check_files:
            missing_files(df, f"{self.title} at {self._root()}")
        return df

    def _row(self, f: Path, sentence: str, label: int, method: str, vocoder: str, language: str) -> dict:
        return {"dataset": self.name, "split": _split(sentence, self.val_fraction, self.test_fraction),
                "utt_id": f"{method}/{f.stem}", "speaker": "jsut" if language == "ja" else "LJ", "label": label,
                "method": method, "path": str(f), "vocoder": vocoder, "language": language}  # fmt: skip


def _language(vocoder_folder: str) -> str:
    return "ja" if vocoder_folder.startswith("jsut") else "en"


MLAAD_SKETCH = (
    "<root>/fake/<language>/<model>/*.wav (and each model's meta.csv), e.g. fake/de/tts_models_de_thorsten_vits/\n"
    "data.source.reals_root: M-AILABS, <reals_root>/<lang_code>/by_book/<gender>/<speaker>/<book>/wavs/*.wav "
    "(lang_code de_DE, en_US, en_UK, ...)"
)


class MLAADSource(_Source):
    """MLAAD (Müller et al. 2024, "MLAAD: the multi-language audio anti-spoofing dataset"): text-to-speech in many
    languages by many models (``fake/<language>/<model>/``), with M-AILABS (the corpus MLAAD's texts come from) as
    the bona fide side. ``method`` is ``<language>/<model>``, ``language`` the two-letter code.

    Args:
        root: the MLAAD folder holding ``fake/``.
        reals_root: the M-AILABS folder holding ``<lang_code>/by_book/...``.
        languages: the languages to use (``[de, en]``); None: every language of ``fake/``.
        val_fraction, test_fraction: shares of the split by file (``test_fraction: 1``: all test).
        check_files: verify that every listed file still exists.
    """

    name = "mlaad"
    title = "MLAAD"
    sketch = MLAAD_SKETCH

    def __init__(self, root: str | None, reals_root: str | None = None, languages: list[str] | None = None,
                 val_fraction: float = 0.0, test_fraction: float = 1.0, check_files: bool = True) -> None:  # fmt: skip
        self.root, self.reals_root, self.languages = root, reals_root, languages
        self.val_fraction, self.test_fraction, self.check_files = val_fraction, test_fraction, check_files

    def _fake_dirs(self) -> dict[str, list[Path]]:
        root = self._root()
        _require(self.title, root, ["fake"], self.sketch)
        found = {d.name: [m for m in sorted(d.iterdir()) if m.is_dir()] for d in sorted((root / "fake").iterdir())
                 if d.is_dir()}  # fmt: skip
        wanted = self.languages if self.languages is not None else sorted(found)
        missing = [lang for lang in wanted if not found.get(lang)]
        if missing or not wanted:
            raise DatasetNotFoundError(f"MLAAD at {root}: no fake/<language>/<model>/ for {', '.join(missing) or 'any'}"
                                       f" language (found: {', '.join(found) or 'none'})")  # fmt: skip
        return {lang: found[lang] for lang in wanted}

    def _real_dirs(self) -> dict[str, list[Path]]:
        reals = Path(self.reals_root).expanduser() if self.reals_root else None
        if reals is None or not reals.is_dir():
            state = "not set" if reals is None else f"{reals}, which does not exist"
            raise DatasetNotFoundError(f"MLAAD: data.source.reals_root (M-AILABS) is {state}. Expected layout:\n"
                                       f"{self.sketch}")  # fmt: skip
        out: dict[str, list[Path]] = {}
        for d in sorted(reals.iterdir()):
            if d.is_dir() and len(d.name) >= 2:
                out.setdefault(d.name[:2].lower(), []).append(d)
        return out

    def check(self) -> None:
        fakes, reals = self._fake_dirs(), self._real_dirs()
        missing = [lang for lang in fakes if lang not in reals]
        if missing:
            raise DatasetNotFoundError(f"MLAAD: M-AILABS at {self.reals_root} has no <lang_code>/ folder for "
                                       f"{', '.join(missing)} (data.source.languages=[...] to leave them out). "
                                       f"Expected layout:\n{self.sketch}")  # fmt: skip

    def manifest(self) -> pd.DataFrame:
        self.check()
        fakes, reals = self._fake_dirs(), self._real_dirs()
        rows: list[dict] = []
        for language, models in fakes.items():
            for folder in reals[language]:
                for f in _wavs(folder, "**/wavs/*.wav"):
                    speaker = f.relative_to(folder).parts[2] if "by_book" in f.parts else "mix"
                    rows.append(self._row(f, f"{folder.name}/{f.stem}", 0, "real", speaker, language))
            for model in models:
                for f in _wavs(model):
                    rows.append(self._row(f, f"{language}/{model.name}/{f.stem}", 1, f"{language}/{model.name}",
                                          model.name, language))  # fmt: skip
        df = pd.DataFrame(rows, columns=[*COLUMNS, "language"])
        if self.check_files:
            missing_files(df, f"{self.title} at {self._root()}")
        return df

    def _row(self, f: Path, utt: str, label: int, method: str, speaker: str, language: str) -> dict:
        return {"dataset": self.name, "split": _split(utt, self.val_fraction, self.test_fraction), "utt_id": utt,
                "speaker": speaker, "label": label, "method": method, "path": str(f), "language": language}  # fmt: skip
