"""The speech anti-spoofing benchmarks after ASVspoof 2019, each in its release layout: ASVspoof 2021 LA and DF (the
released eval keys and metadata), ASVspoof 5, In-the-Wild, WaveFake (with LJSpeech / JSUT reals), MLAAD (with
M-AILABS reals), PartialSpoof (with segment labels) and any set described by a Speech DF Arena protocol CSV.

Each source checks its data up front (one :class:`~dfdet.errors.DatasetNotFoundError` naming every missing part and
the expected layout), parses protocols with :mod:`dfdet.data.audio.protocols` (shared with ASVspoof 2019 LA) and
returns the audio manifest (``dataset``, ``split``, ``utt_id``, ``speaker``, ``label``, ``method``, ``path``) plus
what the release knows per trial: ``codec`` (ASVspoof 2021, 5), ``vocoder`` (2021 DF, WaveFake), ``language``
(MLAAD, WaveFake) and the PartialSpoof segment labels. Sets released for evaluation only put every row in ``test``
(``split=``); WaveFake and MLAAD can be split by a hash of the sentence (``val_fraction``, ``test_fraction``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from dfdet.data.audio.protocols import (
    file_in,
    float_column,
    load_pickled_npy,
    missing_files,
    protocol_manifest,
    read_csv_columns,
    read_fields,
)
from dfdet.data.layouts import root_or_raise
from dfdet.errors import DatasetNotFoundError, ManifestError


def _require(name: str, root: Path, parts: list[str], sketch: str, hint: str = "") -> None:
    """Raises one :class:`DatasetNotFoundError` listing every part of ``parts`` (relative to ``root``) not there."""
    missing = [p for p in parts if not (root / p).exists()]
    if missing:
        raise DatasetNotFoundError(
            f"{name} at {root} is incomplete; missing: {', '.join(missing)}. {hint}Expected layout:\n{sketch}"
        )


class _Source:
    """What the benchmark sources share: ``name``, ``id_column``, ``check``/``prepare`` over :meth:`_root`."""

    name = ""
    title = ""
    sketch = ""
    id_column = "utt_id"
    root: str | None

    def _root(self) -> Path:
        return root_or_raise(self.title, self.root, self.sketch)

    def check(self) -> None:
        self._root()

    def prepare(self) -> None:
        self.check()


# ASVspoof 2021 ---------------------------------------------------------------------------------------------------
ASV21_CM = {  # trial_metadata.txt columns of the released keys (the evaluation package's names, renamed)
    "LA": ("speaker", "utt_id", "codec", "transmission", "attack", "key", "trim", "subset"),
    "DF": ("speaker", "utt_id", "codec", "source", "attack", "key", "trim", "subset", "vocoder", "task", "team",
           "gender_pair", "language"),
}  # fmt: skip
ASV21_SKETCH = (
    "<root>/ASVspoof2021_{track}_eval/flac/{track}_E_*.flac (the eval audio; DF: every part extracted here)\n"
    "<root>/keys/{track}/CM/trial_metadata.txt (the released keys, {track}-keys-full.tar.gz)\n"
    "LA only, for the min t-DCF: <root>/keys/LA/ASV/trial_metadata.txt and <root>/keys/LA/ASV/ASVTorch_Kaldi/score.txt"
)


class ASVspoof2021Source(_Source):
    """ASVspoof 2021 logical access (``track=LA``) or speech deepfake (``track=DF``) evaluation data with the keys
    and metadata released after the challenge (Liu et al. 2023, "ASVspoof 2021: towards spoofed and deepfake speech
    detection in the wild"). Every trial goes to ``test``; ``codec`` (LA: none, alaw, pstn, g722, ulaw, gsm, opus;
    DF: nocodec, low_mp3, ...) and DF's ``vocoder`` are kept for the per-condition EERs.

    Args:
        root: the folder holding ``ASVspoof2021_<track>_eval/`` and ``keys/``.
        track: ``LA`` or ``DF``.
        keys_root: where ``keys/`` is, when not under ``root``.
        phase: the trials of one phase of the keys' ``subset`` column (``eval``, as the results are reported;
            ``progress``, ``hidden_track``); None: every trial.
        check_files: verify up front that every listed file exists.
    """

    tdcf_legacy = False  # the revised t-DCF of the ASVspoof 2021 evaluation package

    def __init__(
        self,
        root: str | None,
        track: str = "LA",
        keys_root: str | None = None,
        phase: str | None = "eval",
        check_files: bool = True,
    ) -> None:
        if track not in ASV21_CM:
            raise DatasetNotFoundError(
                f"ASVspoof 2021 track must be LA or DF (PA is replay, not speech synthesis), got {track}"
            )
        self.root, self.track, self.keys_root, self.phase, self.check_files = root, track, keys_root, phase, check_files
        self.name = f"asvspoof2021_{track.lower()}"
        self.title = f"ASVspoof 2021 {track}"
        self.sketch = ASV21_SKETCH.format(track=track)

    def _keys(self) -> Path:
        return Path(self.keys_root).expanduser() if self.keys_root else self._root()

    def check(self) -> None:
        root = self._root()
        parts = [f"ASVspoof2021_{self.track}_eval/flac"]
        _require(self.title, root, parts, self.sketch)
        _require(self.title, self._keys(), [f"keys/{self.track}/CM/trial_metadata.txt"], self.sketch,
                 "Set data.source.keys_root=/path/holding/keys when the keys are elsewhere. ")  # fmt: skip

    def _metadata(self, path: Path, allowed_keys: tuple[str, ...]) -> pd.DataFrame:
        names = ASV21_CM[self.track]
        table = read_fields(path, names, {"key": allowed_keys}, min_fields=8)
        return table if self.phase is None else table[table["subset"] == self.phase].reset_index(drop=True)

    def manifest(self) -> pd.DataFrame:
        self.check()
        flac = self._root() / f"ASVspoof2021_{self.track}_eval/flac"
        meta = self._keys() / f"keys/{self.track}/CM/trial_metadata.txt"
        table = self._metadata(meta, ("bonafide", "spoof"))
        if table.empty:
            raise ManifestError(f"{meta} lists no trials of phase '{self.phase}' (data.source.phase=null: all trials)")
        extra = ["codec", "vocoder"] if self.track == "DF" else ["codec"]
        df = protocol_manifest(table, self.name, "test", file_in(flac, ".flac"), table["key"] == "spoof",
                               table["attack"], extra=extra)  # fmt: skip
        if self.check_files:
            missing_files(df, f"{self.title} at {flac}")
        return df

    def asv_scores(self, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """LA: the organisers' ASV scores (``keys/LA/ASV/ASVTorch_Kaldi/score.txt``, row by row with
        ``keys/LA/ASV/trial_metadata.txt``) of the phase, as (target, nontarget, spoof); None for DF (no t-DCF) or
        when the ASV keys are absent."""
        keys = self._keys() / "keys/LA/ASV"
        if self.track != "LA" or split != "test" or not (keys / "ASVTorch_Kaldi/score.txt").is_file():
            return None
        names = ASV21_CM["LA"]
        meta = read_fields(keys / "trial_metadata.txt", names, {"key": ("target", "nontarget", "spoof")})
        scores = read_fields(keys / "ASVTorch_Kaldi/score.txt", ("asv_speaker", "utt_id", "score"))
        if len(meta) != len(scores) or (meta["utt_id"] != scores["utt_id"]).any():
            raise ManifestError(f"{keys}: score.txt and trial_metadata.txt must list the same trials in the same order")
        keep = meta["subset"] == self.phase if self.phase else pd.Series(True, index=meta.index)
        values = float_column(scores, "score", keys / "ASVTorch_Kaldi/score.txt")
        return tuple(values[keep & (meta["key"] == k)].to_numpy() for k in ("target", "nontarget", "spoof"))  # type: ignore[return-value]


# ASVspoof 5 ------------------------------------------------------------------------------------------------------
ASV5_COLUMNS = ("speaker", "utt_id", "gender", "codec", "codec_q", "codec_seed", "attack_tag", "attack", "key", "tmp")
ASV5_PARTS = {  # split -> (protocol, flac folder)
    "train": ("ASVspoof5.train.tsv", "flac_T"),
    "val": ("ASVspoof5.dev.track_1.tsv", "flac_D"),
    "test": ("ASVspoof5.eval.track_1.tsv", "flac_E_eval"),
}
ASV5_SKETCH = (
    "<root>/flac_T/T_*.flac, <root>/flac_D/D_*.flac, <root>/flac_E_eval/E_*.flac\n"
    "<root>/ASVspoof5_protocols/ASVspoof5.{train.tsv,dev.track_1.tsv,eval.track_1.tsv} (or beside the flac folders)\n"
    "(protocol lines: SPEAKER FILE GENDER CODEC CODEC_Q CODEC_SEED ATTACK_TAG ATTACK KEY TMP)"
)


class ASVspoof5Source(_Source):
    """ASVspoof 5 (Wang et al. 2024) track 1 in its release layout: train, dev (val), eval (test) with the codec
    labels of the protocols (``-``, no codec, becomes ``none``; C01 ... C11 otherwise).

    Args:
        root: the folder holding ``flac_T``, ``flac_D``, ``flac_E_eval`` and the protocols.
        splits: the parts to read (e.g. ``[test]`` with the evaluation part alone).
        check_files: verify up front that every listed file exists.
    """

    name = "asvspoof5"
    title = "ASVspoof 5"
    sketch = ASV5_SKETCH

    def __init__(self, root: str | None, splits: tuple[str, ...] | list[str] = ("train", "val", "test"),
                 check_files: bool = True) -> None:  # fmt: skip
        self.root, self.splits, self.check_files = root, tuple(splits), check_files

    def _protocol(self, root: Path, name: str) -> Path:
        inside = root / "ASVspoof5_protocols" / name
        return inside if inside.is_file() or not (root / name).is_file() else root / name

    def check(self) -> None:
        root = self._root()
        parts = []
        for split in self.splits:
            protocol, flac = ASV5_PARTS[split]
            parts += [str(self._protocol(root, protocol).relative_to(root)), flac]
        _require(self.title, root, parts, self.sketch, "Set data.source.splits=[test] for the evaluation part alone. ")

    def manifest(self) -> pd.DataFrame:
        self.check()
        root = self._root()
        frames = []
        for split in self.splits:
            protocol, flac = ASV5_PARTS[split]
            table = read_fields(self._protocol(root, protocol), ASV5_COLUMNS, {"key": ("bonafide", "spoof")}, 9)
            table["codec"] = table["codec"].replace("-", "none")
            folder = root / flac
            frames.append(protocol_manifest(table, self.name, split, file_in(folder, ".flac"),
                                            table["key"] == "spoof", table["attack"], extra=["codec"]))  # fmt: skip
        df = pd.concat(frames, ignore_index=True)
        if self.check_files:
            missing_files(df, f"{self.title} at {root}")
        return df


# In-the-Wild and Speech DF Arena protocols ------------------------------------------------------------------------
WILD_SKETCH = "<root>/meta.csv (file,speaker,label with label spoof|bona-fide) and <root>/0.wav, 1.wav, ..."


class InTheWildSource(_Source):
    """In-the-Wild (Müller et al. 2022, "Does audio deepfake detection generalize?"): bona fide and deepfake
    recordings of 58 public figures, ``release_in_the_wild/meta.csv`` (``file,speaker,label``, label ``spoof`` or
    ``bona-fide``). Every row goes to ``split`` (an evaluation set).

    Args:
        root: the ``release_in_the_wild`` folder.
        split: the split of every row.
        check_files: verify up front that every listed file exists.
    """

    name = "in_the_wild"
    title = "In-the-Wild"
    sketch = WILD_SKETCH

    def __init__(self, root: str | None, split: str = "test", check_files: bool = True) -> None:
        self.root, self.split, self.check_files = root, split, check_files

    def check(self) -> None:
        _require(self.title, self._root(), ["meta.csv"], self.sketch)

    def manifest(self) -> pd.DataFrame:
        self.check()
        root = self._root()
        table = read_csv_columns(root / "meta.csv", ("file", "speaker", "label"), {"label": ("spoof", "bona-fide")})
        df = protocol_manifest(table, self.name, self.split, file_in(root), table["label"] == "spoof",
                               "in_the_wild", utt="file")  # fmt: skip
        df["utt_id"] = [Path(f).stem for f in table["file"]]
        if self.check_files:
            missing_files(df, f"{self.title} at {root}")
        return df


ARENA_SKETCH = "<root>/<protocol> (CSV: file_name,label with label spoof|bonafide; file names relative to <root>)"


class ArenaProtocolSource(_Source):
    """Any set described by a Speech DF Arena protocol CSV (``file_name,label``, label ``spoof`` or ``bonafide``),
    as the Arena leaderboard lists its test sets. Every row goes to ``split``; an ``attack`` column, when present,
    names each spoof's attack.

    Args:
        root: the folder the file names are relative to.
        protocol: the CSV, relative to ``root`` (or absolute).
        name: the dataset's name in the manifest and the metrics.
        split: the split of every row.
        check_files: verify up front that every listed file exists.
    """

    title = "Speech DF Arena protocol"
    sketch = ARENA_SKETCH

    def __init__(self, root: str | None, protocol: str = "protocol.csv", name: str = "arena", split: str = "test",
                 check_files: bool = True) -> None:  # fmt: skip
        self.root, self.protocol, self.name, self.split, self.check_files = root, protocol, name, split, check_files

    def check(self) -> None:
        root = self._root()
        if not (root / self.protocol).is_file():
            raise DatasetNotFoundError(
                f"{self.title} at {root}: no {self.protocol} (data.source.protocol=...). "
                f"Expected layout:\n{self.sketch}"
            )

    def manifest(self) -> pd.DataFrame:
        self.check()
        root = self._root()
        path = root / self.protocol
        table = read_csv_columns(path, ("file_name", "label"), {"label": ("spoof", "bonafide")})
        method = table["attack"] if "attack" in table.columns else "spoof"
        df = protocol_manifest(table, self.name, self.split, file_in(root), table["label"] == "spoof",
                               method, utt="file_name", speaker=None)  # fmt: skip
        df["utt_id"] = [Path(f).with_suffix("").as_posix() for f in table["file_name"]]
        if self.check_files:
            missing_files(df, f"{self.title} {path}")
        return df


# PartialSpoof ---------------------------------------------------------------------------------------------------
PS_PARTS = {"train": "train", "val": "dev", "test": "eval"}
PS_RESOLUTIONS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64)
PS_SKETCH = (
    "<root>/{train,dev,eval}/con_wav/*.wav\n"
    "<root>/protocols/PartialSpoof_LA_cm_protocols/PartialSpoof.LA.cm.{train,dev,eval}.trl.txt\n"
    "<root>/segment_labels/{train,dev,eval}_seglab_<resolution>.npy (resolution 0.01 ... 0.64 s)\n"
    "(the database/ folder of the PartialSpoof release)"
)


class PartialSpoofSource(_Source):
    """PartialSpoof (Zhang et al. 2023, "The PartialSpoof database and countermeasures for the detection of short
    fake speech segments embedded in an utterance", IEEE/ACM TASLP): ASVspoof 2019 LA utterances with spoofed
    segments spliced in, labelled per utterance (the 2019-style CM protocols) and per segment at seven resolutions.

    The manifest adds ``segment_resolution`` (seconds) and ``segment_labels``: one character per segment, ``1``
    spoof and ``0`` bona fide (the release's own files say ``1`` bona fide, ``0`` spoof: they are flipped here to
    the project's convention, 1 = fake). Utterance-level evaluation uses the protocol's label.

    Args:
        root: the ``database`` folder.
        resolution: the segment labels' resolution in seconds (one of 0.01, 0.02, ..., 0.64); None: no segment
            labels.
        check_files: verify up front that every listed file exists.
    """

    name = "partialspoof"
    title = "PartialSpoof"
    sketch = PS_SKETCH

    def __init__(self, root: str | None, resolution: float | None = 0.16, check_files: bool = True) -> None:
        if resolution is not None and float(resolution) not in PS_RESOLUTIONS:
            raise DatasetNotFoundError(f"PartialSpoof has segment labels at {PS_RESOLUTIONS} s, not {resolution}")
        self.root, self.resolution, self.check_files = root, resolution, check_files

    def _parts(self, part: str) -> list[str]:
        out = [f"{part}/con_wav", f"protocols/PartialSpoof_LA_cm_protocols/PartialSpoof.LA.cm.{part}.trl.txt"]
        return out + ([f"segment_labels/{part}_seglab_{self.resolution}.npy"] if self.resolution else [])

    def check(self) -> None:
        root = self._root()
        _require(self.title, root, [p for part in PS_PARTS.values() for p in self._parts(part)], self.sketch)

    def manifest(self) -> pd.DataFrame:
        self.check()
        root = self._root()
        frames = []
        for split, part in PS_PARTS.items():
            wav, protocol, *labels = self._parts(part)
            table = read_fields(root / protocol, ("speaker", "utt_id", "unused", "system", "key"),
                                {"key": ("bonafide", "spoof")})  # fmt: skip
            df = protocol_manifest(table, self.name, split, file_in(root / wav, ".wav"),
                                   table["key"] == "spoof", table["system"].replace("-", "partial"))  # fmt: skip
            if labels:
                df["segment_resolution"] = float(self.resolution or 0)
                df["segment_labels"] = segment_strings(root / labels[0], df["utt_id"])
            frames.append(df)
        out = pd.concat(frames, ignore_index=True)
        if self.check_files:
            missing_files(out, f"{self.title} at {root}")
        return out


def segment_strings(path: Path, utterances: pd.Series) -> list[str]:
    """Each utterance's PartialSpoof segment labels as a string, ``1`` spoof, ``0`` bona fide.

    Raises:
        ManifestError: the file is not a dictionary of label arrays, or lacks an utterance, or holds other values.
    """
    labels = load_pickled_npy(path)
    if not isinstance(labels, dict):
        raise ManifestError(f"{path} holds a {type(labels).__name__}, expected a dictionary utterance -> labels")
    out = []
    for utt in utterances:
        if utt not in labels:
            raise ManifestError(f"{path} has no segment labels for {utt}")
        values = [str(v) for v in np.asarray(labels[utt]).ravel()]
        if not set(values) <= {"0", "1"}:
            raise ManifestError(f"{path}: segment labels of {utt} must be 0 or 1, got {sorted(set(values))[:4]}")
        out.append("".join("0" if v == "1" else "1" for v in values))  # the release: 1 bona fide
    return out
